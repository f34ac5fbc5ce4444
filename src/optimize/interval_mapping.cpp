#include "interval_mapping.h"

#include <string>

#include "vmatplan/core/error.h"

namespace vmatplan {

std::vector<IntervalRef> map_intervals(const DeliveryPlan& plan, const PlanGeometry& geometry) {
  if (plan.beams.size() != geometry.beams.size())
    throw ProcessingError("delivery plan has " + std::to_string(plan.beams.size()) +
                          " beams, the dose engine's geometry " +
                          std::to_string(geometry.beams.size()));
  std::vector<IntervalRef> refs;
  int offset = 0;
  for (size_t b = 0; b < plan.beams.size(); ++b) {
    const int nd = static_cast<int>(plan.beams[b].control_points.size());
    const int ne = static_cast<int>(geometry.beams[b].control_points.size());
    if (nd < 2 || ne < 1 || (ne > 1 && (nd - 1) % (ne - 1) != 0))
      throw ProcessingError("beam '" + plan.beams[b].name + "': " + std::to_string(nd) +
                            " delivery control points do not subdivide the " +
                            std::to_string(ne) + " of the dose engine's geometry");
    const int sub = ne > 1 ? (nd - 1) / (ne - 1) : 0;
    for (int j = 0; j + 1 < nd; ++j) {
      IntervalRef r;
      r.beam = b, r.index = static_cast<size_t>(j);
      if (ne == 1) {
        r.cp_a = r.cp_b = offset, r.w_a = 1.0f;
      } else {
        // Linear interpolation at the interval's midpoint between the bracketing engine
        // control points; sub = 1 gives the half/half rule of delivered_fluence().
        const int k = j / sub;
        const double s = ((j % sub) + 0.5) / sub;
        r.cp_a = offset + k, r.cp_b = offset + k + 1;
        r.w_a = static_cast<float>(1.0 - s), r.w_b = static_cast<float>(s);
      }
      refs.push_back(r);
    }
    offset += ne;
  }
  return refs;
}

torch::Tensor mixing_matrix(const std::vector<IntervalRef>& refs, int64_t cps) {
  torch::Tensor m = torch::zeros({cps, static_cast<int64_t>(refs.size())}, torch::kFloat);
  auto a = m.accessor<float, 2>();
  for (size_t n = 0; n < refs.size(); ++n) {
    a[refs[n].cp_a][n] += refs[n].w_a;
    a[refs[n].cp_b][n] += refs[n].w_b;
  }
  return m;
}

}  // namespace vmatplan
