#pragma once
// One entry point for deliverable plans on disk: a DICOM RT Plan, a sequenced plan file
// (PLAN2.json with extra.delivery, written by `vmatplan sequence`) or a bare delivery JSON
// (format "vmatplan-delivery").
#include <string>

#include "vmatplan/geometry/delivery_plan.h"

namespace vmatplan {

// InputError naming the file when it is none of these.
DeliveryPlan load_delivery_plan(const std::string& path);

}  // namespace vmatplan
