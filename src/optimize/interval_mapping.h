#pragma once
// How the intervals of a delivery plan reach the control points of a dose engine's geometry
// (shared by the meterset and aperture optimisers; private to the optimize layer).
#include <torch/torch.h>

#include <vector>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/delivery_plan.h"

namespace vmatplan {

// One delivery interval: where it lives and how its fluence reaches the engine.
struct IntervalRef {
  size_t beam = 0, index = 0;    // delivery beam and interval (cp index -> index + 1)
  int cp_a = 0, cp_b = 0;        // engine control points (global)
  float w_a = 0, w_b = 0;        // interpolation weights
};

// Every interval of `plan`, in beam order. The delivery beams must subdivide the
// geometry's beams: (delivery cps - 1) a multiple of (geometry cps - 1); ProcessingError
// otherwise. An interval's fluence is interpolated linearly at its midpoint between the
// two engine control points that bracket it (one delivery interval per engine interval:
// the half/half rule of delivered_fluence()).
std::vector<IntervalRef> map_intervals(const DeliveryPlan& plan, const PlanGeometry& geometry);

// [engine control points, intervals]: engine fluence = M x interval fluence.
torch::Tensor mixing_matrix(const std::vector<IntervalRef>& refs, int64_t cps);

}  // namespace vmatplan
