#include "source_group_trace.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vmatplan/core/error.h"

namespace vmatplan::detail {

SourceGroupTrace::SourceGroupTrace(const TraceContext& c, const std::vector<BeamTransform>& beams,
                                   const BeamTransform& frame, DepthMethod method)
    : lead_(c, beams.size() == 1 ? beams[0] : frame,
            beams.size() == 1 ? method : DepthMethod::kExactTrace),
      context_(&c), members_(static_cast<int>(beams.size())) {
  std::copy(lead_.r_, lead_.r_ + 9, r_);
  sad_ = lead_.sad_, u_max_ = lead_.u_max_, w_max_ = lead_.w_max_;
  if (beams.empty() || beams.size() > static_cast<size_t>(kMaxMembers))
    throw ProcessingError("source group: 1 to 4 control points");
  const Mat3& rl = (members_ == 1 ? beams[0] : frame).bld_to_lps_rotation();
  const double inv_step = 1.0 / c.plane.step_mm;
  for (int m = 0; m < members_; ++m) {
    // A member's (x, y) = R_m^T R_frame (x, y) of the frame's: a rotation about the shared axis
    // (the divergent projection scales both frames alike).
    const Mat3& rm = beams[m].bld_to_lps_rotation();
    double a[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        a[i][j] = rm[i] * rl[j] + rm[3 + i] * rl[3 + j] + rm[6 + i] * rl[6 + j];
    float* t = to_plane_[m];
    t[0] = static_cast<float>(a[0][0] * inv_step), t[1] = static_cast<float>(a[0][1] * inv_step);
    t[2] = static_cast<float>(a[1][0] * inv_step), t[3] = static_cast<float>(a[1][1] * inv_step);
    t[4] = static_cast<float>(-c.plane.x0_mm * inv_step);
    t[5] = static_cast<float>(-c.plane.y0_mm * inv_step);
  }
  if (members_ == 1) {
    lattice_ = lead_.lattice_.get();
  } else if (method != DepthMethod::kExactTrace) {
    make_shared_lattice(beams, frame, method);
  }
}

void SourceGroupTrace::make_shared_lattice(const std::vector<BeamTransform>& beams,
                                           const BeamTransform& frame, DepthMethod method) {
  const TraceContext& c = *context_;
  const SamplePlane& pl = c.plane;
  const double du = ControlPointTrace::lattice_spacing_mm(*c.volume);
  // The rectangle of the frame's isocentre plane that covers every member's plane.
  const Mat3& rl = frame.bld_to_lps_rotation();
  double u_lo = std::numeric_limits<double>::infinity(), u_hi = -u_lo, v_lo = u_lo, v_hi = -u_lo;
  const double x1 = pl.x0_mm + (pl.width - 1) * pl.step_mm, y1 = pl.y0_mm + (pl.height - 1) * pl.step_mm;
  for (const BeamTransform& b : beams) {
    const Mat3& rb = b.bld_to_lps_rotation();
    double m[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) m[i][j] = rl[i] * rb[j] + rl[3 + i] * rb[3 + j] + rl[6 + i] * rb[6 + j];
    for (double x : {pl.x0_mm, x1})
      for (double y : {pl.y0_mm, y1}) {
        const double u = m[0][0] * x + m[0][1] * y, v = m[1][0] * x + m[1][1] * y;
        u_lo = std::min(u_lo, u), u_hi = std::max(u_hi, u), v_lo = std::min(v_lo, v), v_hi = std::max(v_hi, v);
      }
  }
  const int nu = static_cast<int>(std::ceil((u_hi - u_lo) / du)) + 1;
  const int nv = static_cast<int>(std::ceil((v_hi - v_lo) / du)) + 1;
  // Every ray of the rectangle: at clinical grids most of them are needed (those that
  // miss the body's box cost nothing), and finding which costs more than it saves.
  const LatticeCost cost = LatticeCost::of(c, frame);
  const double all_rays_cost = static_cast<double>(nu) * nv * cost.ray_cost;
  if (method == DepthMethod::kAuto &&
      !(all_rays_cost < static_cast<double>(c.px.size()) * cost.crossings))
    return;
  shared_lattice_ = std::make_unique<DepthLattice>(*c.volume, c.box, frame, u_lo, v_lo, du, nu,
                                                   nv, cost.z_range[0], cost.z_range[1],
                                                   cost.dz_mm);
  lattice_ = shared_lattice_.get();
}

}  // namespace vmatplan::detail
