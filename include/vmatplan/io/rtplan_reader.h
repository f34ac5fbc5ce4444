#pragma once
// DICOM RT Plan import (PS3.3 A.20): arcs and static beams, their control points (values a
// control point omits are carried forward from the previous one, C.8.8.14), jaw and MLCX
// leaf positions, leaf boundaries, machine name, energy, dose rate, isocentre, BeamMeterset
// from the first fraction group, prescription and the patient/study/frame-of-reference/
// RTSTRUCT references.
//
//   DeliveryPlan p = read_rtplan("RP.dcm");
#include <string>

#include "vmatplan/geometry/delivery_plan.h"

namespace vmatplan {

// InputError naming the file for unreadable files, non-RT-Plan objects and beams without
// control points.
DeliveryPlan read_rtplan(const std::string& path);

}  // namespace vmatplan
