#include "vmatplan/geometry/beams_eye_view.h"

#include <algorithm>
#include <cmath>

namespace vmatplan {
namespace {

// One beam's view of a voxel box. Seen along the central axis, a box projects onto a
// hexagon: the zonotope spanned by its three half-axes projected onto BLD x, y. A point q
// (relative to the projected centre) lies in it iff |n_k . q| <= w_k for the normals n_k of
// the three projected half-axes, with w_k = sum_j |n_k . g_j|. Its bounding rectangle has
// half-sizes hx, hy. Magnification is taken at the box centre; `slack` widens the shape by
// the most that divergence across the box's own depth (hz) can shift its outline, so that
// neighbouring boxes at slightly different depths leave no cracks between them.
struct BeamFrame {
  Vec3 ex, ey, ez, iso;
  double hx = 0, hy = 0, hz = 0, sad = 1000;
  std::array<std::array<double, 2>, 3> normals{};
  std::array<double, 3> widths{};
  int normal_count = 0;

  BeamFrame(const VoxelCloud& v, const BeamTransform& t) {
    const Mat3& r = t.bld_to_lps_rotation();  // columns: BLD axes in LPS
    ex = {r[0], r[3], r[6]};
    ey = {r[1], r[4], r[7]};
    ez = {r[2], r[5], r[8]};
    iso = t.bld_to_patient({0, 0, 0});
    sad = t.sad_mm();
    std::array<std::array<double, 2>, 3> g{};
    for (int c = 0; c < 3; ++c) {
      const Vec3& h = v.half_axes_mm[c];
      g[c] = {dot(ex, h), dot(ey, h)};
      hx += std::abs(g[c][0]);
      hy += std::abs(g[c][1]);
      hz += std::abs(dot(ez, h));
    }
    for (int c = 0; c < 3; ++c) {
      double len = std::hypot(g[c][0], g[c][1]);
      if (len < 1e-9) continue;  // an axis along the beam adds no edge
      std::array<double, 2> n{-g[c][1] / len, g[c][0] / len};
      double w = 0;
      for (int j = 0; j < 3; ++j) w += std::abs(n[0] * g[j][0] + n[1] * g[j][1]);
      normals[normal_count] = n;
      widths[normal_count++] = w;
    }
  }

  struct Footprint {
    double u, v, m, slack;  // projected centre, magnification, divergence slack (mm)
  };
  // False when the voxel is not in front of the source (no patient voxel at a sane SAD).
  bool project(const Vec3& p, Footprint& f) const {
    Vec3 d{p[0] - iso[0], p[1] - iso[1], p[2] - iso[2]};
    double distance = sad - dot(ez, d);
    if (distance - hz < 1.0) return false;
    f.m = sad / distance;  // divergent rays: SAD / distance from the source
    f.u = dot(ex, d) * f.m;
    f.v = dot(ey, d) * f.m;
    f.slack = std::hypot(f.u, f.v) * hz / (distance - hz);
    return true;
  }
  bool contains(const Footprint& f, double x, double y) const {
    const double qx = x - f.u, qy = y - f.v;
    for (int k = 0; k < normal_count; ++k)
      if (std::abs(normals[k][0] * qx + normals[k][1] * qy) > widths[k] * f.m + f.slack)
        return false;
    return true;
  }
};

}  // namespace

void BevExtent::merge(const BevExtent& o) {
  if (o.empty) return;
  if (empty) {
    *this = o;
    return;
  }
  x1_mm = std::min(x1_mm, o.x1_mm);
  x2_mm = std::max(x2_mm, o.x2_mm);
  y1_mm = std::min(y1_mm, o.y1_mm);
  y2_mm = std::max(y2_mm, o.y2_mm);
}

VoxelCloud extract_voxels(const Mask& mask, bool surface_only) {
  VoxelCloud cloud;
  const ImageGrid& g = mask.grid;
  for (int c = 0; c < 3; ++c) {
    Vec3 a = g.axis(c);
    for (int r = 0; r < 3; ++r) cloud.half_axes_mm[c][r] = a[r] * g.spacing_mm[c] * 0.5;
  }
  auto inside = [&](int64_t i, int64_t j, int64_t k) {
    return g.contains_index(i, j, k) && mask.at(i, j, k) != 0;
  };
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        if (!mask.at(i, j, k)) continue;
        bool keep = !surface_only;
        for (int dk = -1; dk <= 1 && !keep; ++dk)
          for (int dj = -1; dj <= 1 && !keep; ++dj)
            for (int di = -1; di <= 1 && !keep; ++di)
              if (!inside(i + di, j + dj, k + dk)) keep = true;
        if (keep)
          cloud.centers_lps_mm.push_back(g.index_to_physical(
              {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)}));
      }
  return cloud;
}

std::vector<float> project_voxels(const VoxelCloud& voxels, const BeamTransform& t,
                                  const FluenceGrid& grid, double subcell_mm) {
  const int rows = grid.row_count();
  std::vector<float> coverage(static_cast<size_t>(grid.size_per_control_point()), 0.0f);
  if (rows <= 0 || grid.bixel_count <= 0 || voxels.centers_lps_mm.empty()) return coverage;
  subcell_mm = subcell_mm > 0 ? subcell_mm : 0.5;

  // Sub-cell raster: rows split into equal sub-rows (leaf widths differ), bixels into
  // equal sub-columns. A sub-cell is covered when its centre lies in some voxel's
  // projected box; marking (not adding areas) makes coverage the area of the union of the
  // projections, so overlapping neighbours do not count twice.
  std::vector<double> sub_y_centers;
  std::vector<int> sub_row_of;
  std::vector<int> subs_per_row(rows);
  for (int r = 0; r < rows; ++r) {
    double y0 = grid.row_edges_mm[r], w = grid.row_edges_mm[r + 1] - y0;
    int k = std::max(4, static_cast<int>(std::ceil(w / subcell_mm - 1e-9)));
    subs_per_row[r] = k;
    for (int s = 0; s < k; ++s) {
      sub_y_centers.push_back(y0 + (s + 0.5) * w / k);
      sub_row_of.push_back(r);
    }
  }
  const int kx = std::max(4, static_cast<int>(std::ceil(grid.bixel_width_mm / subcell_mm - 1e-9)));
  const double dx = grid.bixel_width_mm / kx;
  const int cols = grid.bixel_count * kx;
  const int sub_rows = static_cast<int>(sub_y_centers.size());
  std::vector<uint8_t> covered(static_cast<size_t>(sub_rows) * cols, 0);

  const BeamFrame frame(voxels, t);
  BeamFrame::Footprint f;
  for (const Vec3& p : voxels.centers_lps_mm) {
    if (!frame.project(p, f)) continue;
    const double rx = frame.hx * f.m + f.slack, ry = frame.hy * f.m + f.slack;
    int c0 = std::max(0, static_cast<int>(std::ceil((f.u - rx - grid.x_min_mm) / dx - 0.5)));
    int c1 = std::min(cols - 1, static_cast<int>(std::floor((f.u + rx - grid.x_min_mm) / dx - 0.5)));
    if (c0 > c1) continue;
    auto r_begin = std::lower_bound(sub_y_centers.begin(), sub_y_centers.end(), f.v - ry);
    auto r_end = std::upper_bound(r_begin, sub_y_centers.end(), f.v + ry);
    for (auto it = r_begin; it != r_end; ++it) {
      const size_t row = static_cast<size_t>(it - sub_y_centers.begin());
      uint8_t* line = covered.data() + row * cols;
      for (int c = c0; c <= c1; ++c)
        if (!line[c] && frame.contains(f, grid.x_min_mm + (c + 0.5) * dx, *it)) line[c] = 1;
    }
  }

  for (int sr = 0; sr < sub_rows; ++sr) {
    const int r = sub_row_of[sr];
    const float weight = 1.0f / static_cast<float>(subs_per_row[r] * kx);
    const uint8_t* line = covered.data() + static_cast<size_t>(sr) * cols;
    float* out = coverage.data() + static_cast<size_t>(r) * grid.bixel_count;
    for (int b = 0; b < grid.bixel_count; ++b) {
      int n = 0;
      for (int s = 0; s < kx; ++s) n += line[b * kx + s];
      out[b] += n * weight;
    }
  }
  for (float& c : coverage) c = std::min(c, 1.0f);  // guards float round-off only
  return coverage;
}

std::vector<float> project_structure(const Mask& mask, const BeamTransform& t,
                                     const FluenceGrid& grid) {
  return project_voxels(extract_voxels(mask), t, grid);
}

BevExtent projected_extent(const VoxelCloud& voxels, const BeamTransform& t) {
  BevExtent e;
  const BeamFrame frame(voxels, t);
  BeamFrame::Footprint f;
  for (const Vec3& p : voxels.centers_lps_mm) {
    if (!frame.project(p, f)) continue;
    // The bounding rectangle is exact along each of BLD x and y: jaws never cut a voxel.
    const double rx = frame.hx * f.m + f.slack, ry = frame.hy * f.m + f.slack;
    e.merge({f.u - rx, f.u + rx, f.v - ry, f.v + ry, false});
  }
  return e;
}

BevExtent projected_extent(const Mask& mask, const BeamTransform& t) {
  return projected_extent(extract_voxels(mask), t);
}

}  // namespace vmatplan
