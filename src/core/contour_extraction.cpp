#include "vmatplan/core/contour_extraction.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

// Marching squares (Lorensen & Cline's 2-D analogue) on one slice. The slice is padded
// by one ring of "outside" values so that regions touching the grid border close along
// it. A pad value mirrors its inside neighbour about the level (2*level - v), which puts
// the closing edge halfway between the border voxel centre and the pad, as a mask
// boundary would be: the border voxels stay inside the polygon.
//
// Cell corners in counter-clockwise index order: v0 (I,J), v1 (I+1,J), v2 (I+1,J+1),
// v3 (I,J+1); edge e_n joins v_n and v_{n+1}. A segment between edges a and b separates
// the corners met going counter-clockwise from b to a from the others; it is oriented
// a -> b when those corners are inside, so that inside is always on the left and every
// crossed edge has exactly one successor.
class SliceMarcher {
 public:
  SliceMarcher(const Image3D<float>& field, float level)
      : field_(field),
        level_(level),
        nx_(field.grid.size[0] + 2),
        ny_(field.grid.size[1] + 2),
        values_(static_cast<size_t>(nx_ * ny_)),
        next_(static_cast<size_t>(2 * nx_ * ny_), -1) {}

  void run(int64_t k, std::vector<PlanarContour>& out) {
    load_slice(k);
    starts_.clear();
    if (i_max_ < 0) return;  // nothing inside on this slice
    // Only cells with an inside corner can hold a segment.
    for (int64_t J = j_min_ - 1; J <= j_max_; ++J)
      for (int64_t I = i_min_ - 1; I <= i_max_; ++I) march_cell(I, J);
    for (int64_t start : starts_) {
      if (next_[start] < 0) continue;  // already walked as part of another loop
      PlanarContour c;
      int64_t e = start;
      while (next_[e] >= 0) {
        Vec3 p = edge_point(e, k);
        if (c.points_mm.empty() || !same_point(c.points_mm.back(), p)) c.points_mm.push_back(p);
        int64_t n = next_[e];
        next_[e] = -1;
        e = n;
      }
      if (c.points_mm.size() > 1 && same_point(c.points_mm.front(), c.points_mm.back()))
        c.points_mm.pop_back();
      if (c.points_mm.size() >= 3) out.push_back(std::move(c));
    }
  }

 private:
  static bool same_point(const Vec3& a, const Vec3& b) {
    return std::abs(a[0] - b[0]) < 1e-9 && std::abs(a[1] - b[1]) < 1e-9 &&
           std::abs(a[2] - b[2]) < 1e-9;
  }

  void load_slice(int64_t k) {
    const int64_t sx = nx_ - 2, sy = ny_ - 2;
    const float* src = field_.voxels.data() + k * sx * sy;
    i_min_ = nx_, j_min_ = ny_, i_max_ = -1, j_max_ = -1;
    for (int64_t J = 0; J < ny_; ++J)
      for (int64_t I = 0; I < nx_; ++I) {
        int64_t i = I - 1, j = J - 1;
        if (i >= 0 && j >= 0 && i < sx && j < sy) {
          float v = src[i + sx * j];
          values_[I + nx_ * J] = std::isnan(v) ? level_ + 1.0f : v;
          if (v < level_) {
            i_min_ = std::min(i_min_, I), i_max_ = std::max(i_max_, I);
            j_min_ = std::min(j_min_, J), j_max_ = std::max(j_max_, J);
          }
          continue;
        }
        // Pad: mirror the nearest in-grid value about the level, always outside.
        int64_t ci = std::min(std::max<int64_t>(i, 0), sx - 1);
        int64_t cj = std::min(std::max<int64_t>(j, 0), sy - 1);
        float v = src[ci + sx * cj];
        float d = std::isnan(v) ? 1.0f : std::abs(v - level_);
        values_[I + nx_ * J] = level_ + std::max(d, 1e-6f);
      }
  }

  float value(int64_t I, int64_t J) const { return values_[I + nx_ * J]; }
  bool inside(float v) const { return v < level_; }

  // Edge ids: 2*(I + nx*J) is the edge from (I,J) to (I+1,J); +1 the one to (I,J+1).
  int64_t cell_edge(int64_t I, int64_t J, int n) const {
    switch (n) {
      case 0: return 2 * (I + nx_ * J);
      case 1: return 2 * ((I + 1) + nx_ * J) + 1;
      case 2: return 2 * (I + nx_ * (J + 1));
      default: return 2 * (I + nx_ * J) + 1;
    }
  }

  Vec3 edge_point(int64_t e, int64_t k) const {
    int64_t node = e / 2;
    int64_t I = node % nx_, J = node / nx_;
    int64_t I2 = I + ((e & 1) ? 0 : 1), J2 = J + ((e & 1) ? 1 : 0);
    double a = value(I, J), b = value(I2, J2);
    double t = (b == a) ? 0.5 : (double(level_) - a) / (b - a);
    t = std::min(1.0, std::max(0.0, t));
    Vec3 idx{double(I - 1) + t * double(I2 - I), double(J - 1) + t * double(J2 - J),
             double(k)};
    return field_.grid.index_to_physical(idx);
  }

  void add_segment(int64_t I, int64_t J, int a, int b, const bool in[4]) {
    // Corners met counter-clockwise from edge b to edge a: v_{b+1}, ..., v_a.
    bool left_inside = in[(b + 1) % 4];
    int64_t ea = cell_edge(I, J, a), eb = cell_edge(I, J, b);
    if (!left_inside) std::swap(ea, eb);
    next_[ea] = eb;
    starts_.push_back(ea);
  }

  void march_cell(int64_t I, int64_t J) {
    const float v[4] = {value(I, J), value(I + 1, J), value(I + 1, J + 1), value(I, J + 1)};
    const bool in[4] = {inside(v[0]), inside(v[1]), inside(v[2]), inside(v[3])};
    const int code = in[0] | (in[1] << 1) | (in[2] << 2) | (in[3] << 3);
    if (code == 0 || code == 15) return;
    if (code == 5 || code == 10) {
      // Saddle: the cell-centre average decides whether the inside corners connect.
      bool centre_in = inside(0.25f * (v[0] + v[1] + v[2] + v[3]));
      bool v0_side = (code == 5) == centre_in;  // cut off v1 and v3 (else v0 and v2)
      if (v0_side) {
        add_segment(I, J, 0, 1, in);  // around v1
        add_segment(I, J, 2, 3, in);  // around v3
      } else {
        add_segment(I, J, 3, 0, in);  // around v0
        add_segment(I, J, 1, 2, in);  // around v2
      }
      return;
    }
    // One segment: it joins the two edges whose corners differ in insideness.
    int edges[2], n = 0;
    for (int e = 0; e < 4 && n < 2; ++e)
      if (in[e] != in[(e + 1) % 4]) edges[n++] = e;
    add_segment(I, J, edges[0], edges[1], in);
  }

  const Image3D<float>& field_;
  float level_;
  int64_t nx_, ny_;
  std::vector<float> values_;
  std::vector<int64_t> next_;
  std::vector<int64_t> starts_;
  int64_t i_min_ = 0, j_min_ = 0, i_max_ = -1, j_max_ = -1;  // padded box of inside values
};

}  // namespace

std::vector<PlanarContour> extract_slice_contours(const Image3D<float>& field, float level) {
  const auto& g = field.grid;
  if (static_cast<int64_t>(field.voxels.size()) != g.voxel_count())
    throw ProcessingError("extract_slice_contours: voxel count does not match the grid");
  if (g.voxel_count() == 0) return {};
  const long nk = static_cast<long>(g.size[2]);
  std::vector<std::vector<PlanarContour>> per_slice(static_cast<size_t>(nk));
  parallel_for(nk, [&](long begin, long end) {
    SliceMarcher marcher(field, level);
    for (long k = begin; k < end; ++k) marcher.run(k, per_slice[static_cast<size_t>(k)]);
  });
  std::vector<PlanarContour> out;
  for (auto& s : per_slice)
    for (auto& c : s) out.push_back(std::move(c));
  return out;
}

std::vector<PlanarContour> extract_mask_contours(const Mask& mask) {
  // Inside voxels at -0.5, outside at +0.5: level 0 lies midway between centres.
  Image3D<float> field(mask.grid);
  for (size_t n = 0; n < mask.voxels.size(); ++n)
    field.voxels[n] = mask.voxels[n] ? -0.5f : 0.5f;
  return extract_slice_contours(field, 0.0f);
}

}  // namespace vmatplan
