#pragma once
// Private to src/dose: the control points that share one source position (the two default
// arcs visit the same gantry angles with collimators 30 and 330 deg) traced in one pass over
// the voxels. Their central axis is the same, so a voxel's distance from the source, its
// inverse square and its radiological depth are the same for all of them, and their
// isocentre-plane positions differ by a rotation about that axis: only the sample-plane
// position and the plane samples are per control point. No LibTorch here.
#include <cstdint>
#include <memory>
#include <vector>

#include "control_point_trace.h"

namespace vmatplan::detail {

class SourceGroupTrace {
 public:
  static constexpr int kMaxMembers = 4;

  // beams: 1 to kMaxMembers control points with the same source. One alone is traced as
  // ControlPointTrace does. Several share one depth lattice in the BLD frame of `frame`
  // (the same source; collimator 0 keeps a CT slice's voxels on a few lattice rows, so the
  // rows they read stay in cache) covering every member's plane (kAuto: unless exact traces
  // cost less).
  SourceGroupTrace(const TraceContext& context, const std::vector<BeamTransform>& beams,
                   const BeamTransform& frame, DepthMethod method);

  int members() const { return members_; }
  bool used_lattice() const { return lattice_ != nullptr; }
  int64_t voxels() const { return static_cast<int64_t>(context_->px.size()); }

  // f(voxel, inverse_square, depth_mm, u, w, mask) for every voxel of the compute voxels
  // [begin, end) that projects onto the sample plane of at least one member, in
  // compute-voxel order: member m hits when bit m of mask is set, at the continuous plane
  // position (u[m], w[m]). Returns the number of (voxel, member) hits.
  template <class F>
  int64_t for_each_voxel_in(int64_t begin, int64_t end, F&& f) const {
    const float sad = sad_;
    int64_t hits = 0;
    for (int64_t v = begin; v < end; ++v) {
      float z, xi, yi, u[kMaxMembers], w[kMaxMembers];
      const unsigned mask = project(v, z, xi, yi, u, w);
      if (!mask) continue;
      hits += __builtin_popcount(mask);
      const float s = sad / z;
      const float depth = lattice_ ? lattice_->depth_mm(xi, yi, z) : lead_.exact_depth(v);
      f(v, s * s, depth, u, w, mask);
    }
    return hits;
  }

 private:
  friend struct GroupGatherAvx2;  // the vectorised gather reads the projection as this does
  // Bit m set when the voxel falls on member m's plane; (xi, yi) in the frame's isocentre plane.
  unsigned project(int64_t v, float& z, float& xi, float& yi, float* u, float* w) const {
    const TraceContext& c = *context_;
    const float* r = r_;
    const float x = c.px[v], y = c.py[v], q = c.pz[v];
    z = sad_ - (r[2] * x + r[5] * y + r[8] * q);
    if (!(z >= 1.0f)) return 0;
    const float s = sad_ / z;
    xi = (r[0] * x + r[3] * y + r[6] * q) * s;
    yi = (r[1] * x + r[4] * y + r[7] * q) * s;
    unsigned mask = 0;
    for (int m = 0; m < members_; ++m) {
      const float* a = to_plane_[m];
      u[m] = a[0] * xi + a[1] * yi + a[4];
      w[m] = a[2] * xi + a[3] * yi + a[5];
      if (u[m] >= 0 && w[m] >= 0 && u[m] < u_max_ && w[m] < w_max_) mask |= 1u << m;
    }
    return mask;
  }
  void make_shared_lattice(const std::vector<BeamTransform>& beams, const BeamTransform& frame,
                           DepthMethod method);

  ControlPointTrace lead_;  // the lone member, or the frame (exact depths)
  const TraceContext* context_;
  float r_[9], sad_, u_max_, w_max_;  // lead_'s projection (ControlPointTrace::project)
  int members_ = 0;
  // Per member: the frame's isocentre plane (x, y) -> that member's continuous plane
  // position, u = a0 x + a1 y + a4, w = a2 x + a3 y + a5 (its collimator rotation relative
  // to the frame's, then the plane's origin and step).
  float to_plane_[kMaxMembers][6] = {};
  std::unique_ptr<DepthLattice> shared_lattice_;
  const DepthLattice* lattice_ = nullptr;  // shared_lattice_, lead's own or none
};

}  // namespace vmatplan::detail
