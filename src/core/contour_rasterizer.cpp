#include "vmatplan/core/contour_rasterizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

// One polygon edge in continuous index space (i, j) of its slice.
struct Edge {
  double x0, y0, x1, y1;
};

// The contours of one slice, as edges in index space. Because the even-odd rule is used,
// contour orientation (and flips of i or j relative to LPS) does not matter.
struct SliceEdges {
  std::vector<Edge> edges;
};

std::string format_mm(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Maps every contour to its slice k and groups the edges by slice.
std::map<int64_t, SliceEdges> group_by_slice(const std::vector<PlanarContour>& contours,
                                             const ImageGrid& grid, double slice_tolerance,
                                             std::vector<std::string>* warnings) {
  std::map<int64_t, SliceEdges> slices;
  int off_plane = 0, outside = 0, degenerate = 0;
  double worst_off = 0.0;
  double first_outside_mm = 0.0;
  for (const PlanarContour& c : contours) {
    if (c.points_mm.size() < 3) {
      ++degenerate;
      continue;
    }
    std::vector<Vec3> idx;
    idx.reserve(c.points_mm.size());
    double k_sum = 0.0;
    for (const Vec3& p : c.points_mm) {
      idx.push_back(grid.physical_to_index(p));
      k_sum += idx.back()[2];
    }
    const double k_mean = k_sum / static_cast<double>(idx.size());
    const int64_t k = static_cast<int64_t>(std::llround(k_mean));
    double off = 0.0;  // worst distance of a point from the slice centre, in slices
    for (const Vec3& q : idx) off = std::max(off, std::abs(q[2] - static_cast<double>(k)));
    if (off > slice_tolerance) {
      ++off_plane;
      worst_off = std::max(worst_off, off);
    }
    if (k < 0 || k >= grid.size[2]) {
      if (outside == 0) first_outside_mm = c.points_mm.front()[2];
      ++outside;
      continue;
    }
    std::vector<Edge>& edges = slices[k].edges;
    for (size_t a = 0; a < idx.size(); ++a) {
      const Vec3& p = idx[a];
      const Vec3& q = idx[(a + 1) % idx.size()];
      edges.push_back({p[0], p[1], q[0], q[1]});
    }
  }
  if (warnings) {
    if (off_plane > 0)
      warnings->push_back(std::to_string(off_plane) +
                          " contour(s) lie off the slice planes by up to " +
                          format_mm(worst_off) + " slices; snapped to the nearest slice");
    if (outside > 0)
      warnings->push_back(std::to_string(outside) +
                          " contour(s) outside the grid's slice range (first at z=" +
                          format_mm(first_outside_mm) + " mm); ignored");
    if (degenerate > 0)
      warnings->push_back(std::to_string(degenerate) +
                          " contour(s) with fewer than 3 points; ignored");
  }
  return slices;
}

// Calls sink(j, row_coverage, i_begin, i_end) for every voxel row j of one slice that a
// polygon touches; row_coverage[i] in [i_begin, i_end) holds the covered fraction.
// Coverage along x is exact (1-D overlap of each span with each voxel); along y it is
// the mean over `subsamples` sub-rows at their centres.
template <class Sink>
void rasterize_slice(const SliceEdges& slice, const ImageGrid& grid, int subsamples,
                     std::vector<double>& row, Sink&& sink) {
  const int64_t nx = grid.size[0], ny = grid.size[1];
  const int s_count = std::max(1, subsamples);
  const double dy = 1.0 / s_count;
  // Sub-row t (global, t = j * S + s) samples y = j - 0.5 + (s + 0.5) / S.
  const int64_t t_total = ny * s_count;
  auto sub_row_y = [&](int64_t t) { return -0.5 + (static_cast<double>(t) + 0.5) * dy; };

  // Crossings (sub-row, x) of every edge; the half-open rule ymin <= y < ymax counts
  // each vertex once and skips horizontal edges.
  std::vector<std::pair<int64_t, double>> crossings;
  for (const Edge& e : slice.edges) {
    const double ymin = std::min(e.y0, e.y1), ymax = std::max(e.y0, e.y1);
    if (!(ymax > ymin) || !std::isfinite(ymax - ymin) || !std::isfinite(e.x0 + e.x1)) continue;
    int64_t t0 = static_cast<int64_t>(std::ceil((ymin + 0.5) / dy - 0.5));
    int64_t t1 = static_cast<int64_t>(std::ceil((ymax + 0.5) / dy - 0.5)) - 1;
    // Guard the rounding at the interval ends with the exact rule.
    while (t0 - 1 >= 0 && sub_row_y(t0 - 1) >= ymin) --t0;
    while (t0 < t_total && sub_row_y(t0) < ymin) ++t0;
    while (t1 + 1 < t_total && sub_row_y(t1 + 1) < ymax) ++t1;
    while (t1 >= 0 && sub_row_y(t1) >= ymax) --t1;
    t0 = std::max<int64_t>(t0, 0);
    t1 = std::min<int64_t>(t1, t_total - 1);
    const double slope = (e.x1 - e.x0) / (e.y1 - e.y0);
    for (int64_t t = t0; t <= t1; ++t)
      crossings.emplace_back(t, e.x0 + (sub_row_y(t) - e.y0) * slope);
  }
  if (crossings.empty()) return;
  std::sort(crossings.begin(), crossings.end());

  const double x_lo = -0.5, x_hi = static_cast<double>(nx) - 0.5;
  size_t c = 0;
  while (c < crossings.size()) {
    const int64_t j = crossings[c].first / s_count;
    int64_t i_begin = nx, i_end = 0;
    // Every sub-row of voxel row j.
    while (c < crossings.size() && crossings[c].first / s_count == j) {
      const int64_t t = crossings[c].first;
      size_t end = c;
      while (end < crossings.size() && crossings[end].first == t) ++end;
      // Even-odd: fill between crossing pairs (an odd count means an unclosed ring
      // touched the grid edge; the last crossing is then ignored).
      for (size_t a = c; a + 1 < end; a += 2) {
        const double xa = std::max(crossings[a].second, x_lo);
        const double xb = std::min(crossings[a + 1].second, x_hi);
        if (xb <= xa) continue;
        const int64_t ia = static_cast<int64_t>(std::floor(xa + 0.5));
        const int64_t ib = std::min<int64_t>(static_cast<int64_t>(std::floor(xb + 0.5)), nx - 1);
        if (i_begin > ia) i_begin = ia;
        if (i_end < ib + 1) i_end = ib + 1;
        if (ia == ib) {
          row[ia] += (xb - xa) * dy;
          continue;
        }
        row[ia] += (static_cast<double>(ia) + 0.5 - xa) * dy;
        for (int64_t i = ia + 1; i < ib; ++i) row[i] += dy;
        row[ib] += (xb - (static_cast<double>(ib) - 0.5)) * dy;
      }
      c = end;
    }
    if (i_begin < i_end) {
      sink(j, row, i_begin, i_end);
      std::fill(row.begin() + i_begin, row.begin() + i_end, 0.0);
    }
  }
}

template <class Sink>
void rasterize_all(const std::vector<PlanarContour>& contours, const ImageGrid& grid,
                   const RasterizeOptions& options, std::vector<std::string>* warnings,
                   Sink sink) {
  const std::map<int64_t, SliceEdges> by_slice =
      group_by_slice(contours, grid, options.slice_tolerance, warnings);
  std::vector<std::pair<int64_t, const SliceEdges*>> work(by_slice.size());
  size_t n = 0;
  for (const auto& kv : by_slice) work[n++] = {kv.first, &kv.second};
  // Slices are independent; each worker writes only its own slices.
  parallel_for(static_cast<long>(work.size()), [&](long begin, long end) {
    std::vector<double> row(static_cast<size_t>(grid.size[0]), 0.0);
    for (long w = begin; w < end; ++w) {
      const int64_t k = work[w].first;
      rasterize_slice(*work[w].second, grid, options.subsamples, row,
                      [&](int64_t j, const std::vector<double>& cov, int64_t ib, int64_t ie) {
                        sink(k, j, cov, ib, ie);
                      });
    }
  });
}

}  // namespace

Image3D<float> rasterize_coverage(const std::vector<PlanarContour>& contours,
                                  const ImageGrid& grid, const RasterizeOptions& options,
                                  std::vector<std::string>* warnings) {
  Image3D<float> out(grid, 0.0f);
  rasterize_all(contours, grid, options, warnings,
                [&](int64_t k, int64_t j, const std::vector<double>& cov, int64_t ib,
                    int64_t ie) {
                  float* dst = &out.voxels[static_cast<size_t>(grid.linear_index(0, j, k))];
                  for (int64_t i = ib; i < ie; ++i)
                    dst[i] = static_cast<float>(std::min(1.0, cov[i]));
                });
  return out;
}

Mask rasterize_contours(const std::vector<PlanarContour>& contours, const ImageGrid& grid,
                        const RasterizeOptions& options, std::vector<std::string>* warnings) {
  Mask out(grid, 0);
  // A tiny epsilon keeps a voxel exactly half covered (e.g. a polygon edge through its
  // centre) inside, independent of floating-point noise in the sum of sub-rows.
  const double threshold = options.coverage_threshold - 1e-9;
  rasterize_all(contours, grid, options, warnings,
                [&](int64_t k, int64_t j, const std::vector<double>& cov, int64_t ib,
                    int64_t ie) {
                  uint8_t* dst = &out.voxels[static_cast<size_t>(grid.linear_index(0, j, k))];
                  for (int64_t i = ib; i < ie; ++i) dst[i] = cov[i] >= threshold ? 1 : 0;
                });
  return out;
}

}  // namespace vmatplan
