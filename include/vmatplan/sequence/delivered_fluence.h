#pragma once
// Fluence delivered by MLC apertures: for each control-point interval the leaves move
// linearly with the meterset (DICOM PS3.3 C.8.8.14.8), so the time-averaged opening of a
// bixel is an exact integral of a piecewise-linear overlap (partial bixel opening). Leaf
// and jaw transmission come from the machine config.
//
//   FluenceMaps f = delivered_fluence(plan, grid, machine, {});
#include <vector>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

struct DeliveredFluenceOptions {
  bool transmission = true;  // add leaf and jaw transmission
  // MU scale: fluence in plan MU = per-fraction MU x fractions (the FluenceMaps unit).
  bool all_fractions = true;
};

// Fluence [rows x bixels] of interval i (control point i -> i+1) of `beam`, added to `out`
// (size grid.size_per_control_point()), in MU x `mu_scale`. The grid rows must be leaf
// pairs of the beam's MLC (ProcessingError otherwise).
void add_interval_fluence(const DeliveryBeam& beam, size_t i, const FluenceGrid& grid,
                          const Machine& machine, double mu_scale, bool transmission,
                          std::vector<float>& out);

// Per control point fluence of the whole plan: each interval's fluence is split in half
// between its two control points (the convention of the fluence plan, whose per-control-
// point maps stand for the arc around each control point).
FluenceMaps delivered_fluence(const DeliveryPlan& plan, const FluenceGrid& grid,
                              const Machine& machine, const DeliveredFluenceOptions& options);

}  // namespace vmatplan
