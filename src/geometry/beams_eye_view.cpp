#include "vmatplan/geometry/beams_eye_view.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

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
    double distance = 0;
    if (!project_centre(p, f, distance)) return false;
    f.slack = slack(f, distance);
    return true;
  }
  // The footprint's widening for a voxel at `distance` from the source (see Footprint).
  double slack(const Footprint& f, double distance) const {
    return std::hypot(f.u, f.v) * hz / (distance - hz);
  }
  // project() without the slack (f.slack is left alone); distance from the source to p.
  bool project_centre(const Vec3& p, Footprint& f, double& distance) const {
    Vec3 d{p[0] - iso[0], p[1] - iso[1], p[2] - iso[2]};
    distance = sad - dot(ez, d);
    if (distance - hz < 1.0) return false;
    f.m = sad / distance;  // divergent rays: SAD / distance from the source
    f.u = dot(ex, d) * f.m;
    f.v = dot(ey, d) * f.m;
    return true;
  }
  // At least project()'s slack, without std::hypot (slow): sqrt(u^2 + v^2) is within a
  // few ulp of hypot (1e-100 covers u^2 + v^2 underflowing), far inside the 1e-12 margin,
  // and every later operation is rounded monotonically.
  double slack_upper_bound(const Footprint& f, double distance) const {
    return (std::sqrt(f.u * f.u + f.v * f.v) * (1 + 1e-12) + 1e-100) * hz / (distance - hz);
  }
  bool contains(const Footprint& f, double x, double y) const {
    const double qx = x - f.u, qy = y - f.v;
    for (int k = 0; k < normal_count; ++k)
      if (std::abs(normals[k][0] * qx + normals[k][1] * qy) > widths[k] * f.m + f.slack)
        return false;
    return true;
  }
};

// The sub-cells of one voxel's footprint on one sub-row, without a contains() test per
// sub-cell. Along a sub-row each constraint |n_k . q| <= w_k of contains() holds on an
// interval of columns, solved here in closed form. The rounding errors of that solution
// and of contains()'s own arithmetic are below 1e-14 of the magnitudes involved
// (coordinates, bounds, 1 / n_k.x), and `guard` is 1e-9 of them: a column further than
// guard inside every interval passes contains(), one further than guard outside any
// interval fails it. Only columns within guard of an edge (about one row in 10^8) get the
// exact test, so the covered sub-cells are those of the scan with contains().
class FootprintRow {
 public:
  FootprintRow(const BeamFrame& frame, const FluenceGrid& grid, double dx_mm)
      : frame_(frame), x_min_(grid.x_min_mm), dx_(dx_mm) {
    for (int k = 0; k < frame.normal_count; ++k) {
      const double n0 = frame.normals[k][0];
      // Columns per mm of n_k . q; none for an edge along x (n0 == 0: n_k . q does not
      // depend on x) or so nearly along x that 1 / n0 could overflow.
      inv_n0_dx_[k] = std::abs(n0) > 1e-200 ? 1.0 / (n0 * dx_mm) : 0.0;
      slope_[k] = -frame.normals[k][1] * inv_n0_dx_[k];
    }
    magnitude_ = std::abs(grid.x_min_mm) + std::abs(grid.x_max_mm());
  }
  // A voxel whose sub-rows lie within ry of its centre (|y - v| <= ry).
  void start_voxel(const BeamFrame::Footprint& f, int c0, int c1, double ry) {
    f_ = &f;
    c0_ = c0, c1_ = c1;
    const double centre_col = (f.u - x_min_) / dx_ - 0.5;  // column of x = u
    const double magnitude_cols = (magnitude_ + std::abs(f.u)) / dx_;
    for (int k = 0; k < frame_.normal_count; ++k) {
      bound_[k] = frame_.widths[k] * f.m + f.slack;
      const double inv = std::abs(inv_n0_dx_[k]), half = bound_[k] * inv;
      lo_[k] = centre_col - half, hi_[k] = centre_col + half;
      guard_[k] = 1e-9 * (1 + (bound_[k] + std::abs(frame_.normals[k][1]) * (ry + 1)) * inv + magnitude_cols);
    }
  }
  // Sets the covered sub-cells of the sub-row at y within [c0, c1] in `line`.
  void add_row(double y, uint64_t* line) const;

 private:
  const BeamFrame& frame_;
  double x_min_, dx_, magnitude_ = 0;
  std::array<double, 3> inv_n0_dx_{}, slope_{};  // per beam
  // Per voxel: contains()'s w_k m + slack; the interval of constraint k at qy = 0 in
  // columns (it moves by slope_k qy); its guard.
  std::array<double, 3> bound_{}, lo_{}, hi_{}, guard_{};
  const BeamFrame::Footprint* f_ = nullptr;
  int c0_ = 0, c1_ = 0;
};

// std::lower_bound / upper_bound on the sorted sub-row centres in O(1): a table on a
// uniform y grid finer than the sub-rows gives a start within a step or two of the answer,
// and the walks compare against the centres themselves, so the result is the same index.
class SubRowLookup {
 public:
  explicit SubRowLookup(const std::vector<double>& centres) : c_(centres) {
    const double y0 = c_.front(), y1 = c_.back();
    double step = y1 - y0;
    for (size_t i = 1; i < c_.size(); ++i) step = std::min(step, c_[i] - c_[i - 1]);
    step = step > 0 ? step : 1.0;
    y0_ = y0, inv_step_ = 1.0 / step;
    const int n = static_cast<int>(std::ceil((y1 - y0) * inv_step_)) + 2;
    table_.resize(static_cast<size_t>(n));
    int i = 0;
    for (int j = 0; j < n; ++j) {
      const double y = y0 + j * step;
      while (i < static_cast<int>(c_.size()) && c_[static_cast<size_t>(i)] < y) ++i;
      table_[static_cast<size_t>(j)] = i;
    }
  }
  int lower_bound(double key) const {  // first centre >= key
    int i = start(key);
    while (i > 0 && c_[static_cast<size_t>(i - 1)] >= key) --i;
    while (i < size() && c_[static_cast<size_t>(i)] < key) ++i;
    return i;
  }
  int upper_bound(double key) const {  // first centre > key
    int i = start(key);
    while (i > 0 && c_[static_cast<size_t>(i - 1)] > key) --i;
    while (i < size() && c_[static_cast<size_t>(i)] <= key) ++i;
    return i;
  }

 private:
  int size() const { return static_cast<int>(c_.size()); }
  int start(double key) const {
    const double j = std::clamp((key - y0_) * inv_step_, 0.0, static_cast<double>(table_.size() - 1));
    return table_[static_cast<size_t>(j)];
  }
  const std::vector<double>& c_;
  double y0_ = 0, inv_step_ = 1;
  std::vector<int> table_;
};

// Sub-cell coverage of one sub-row as bits, column c at bit c % 64 of word c / 64.
uint64_t coverage_bits_mask(int from, int to) {  // bits [from, to] of one word, 0 <= from <= to < 64
  return (~uint64_t{0} >> (63 - to)) & (~uint64_t{0} << from);
}
bool coverage_bits_all_set(const uint64_t* line, int lo, int hi) {
  for (int w = lo / 64; w <= hi / 64; ++w) {
    const uint64_t m = coverage_bits_mask(w == lo / 64 ? lo % 64 : 0, w == hi / 64 ? hi % 64 : 63);
    if ((line[w] & m) != m) return false;
  }
  return true;
}
void coverage_bits_set(uint64_t* line, int lo, int hi) {
  for (int w = lo / 64; w <= hi / 64; ++w)
    line[w] |= coverage_bits_mask(w == lo / 64 ? lo % 64 : 0, w == hi / 64 ? hi % 64 : 63);
}
int coverage_bits_popcount(uint64_t x) {  // SWAR: the build targets baseline x86-64 (no popcnt)
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}
int coverage_bits_count(const uint64_t* line, int begin, int count) {
  const int hi = begin + count - 1;
  int n = 0;
  for (int w = begin / 64; w <= hi / 64; ++w)
    n += coverage_bits_popcount(
        line[w] & coverage_bits_mask(w == begin / 64 ? begin % 64 : 0, w == hi / 64 ? hi % 64 : 63));
  return n;
}

void FootprintRow::add_row(double y, uint64_t* line) const {
  const double qy = y - f_->v;  // as contains()
  double in_lo = c0_, in_hi = c1_, may_lo = c0_, may_hi = c1_;
  for (int k = 0; k < frame_.normal_count; ++k) {
    if (inv_n0_dx_[k] == 0) {
      if (frame_.normals[k][0] == 0) {
        // contains() sees n1 qy alone (n0 qx = +-0), on every column alike.
        if (std::abs(frame_.normals[k][1] * qy) > bound_[k]) return;
      } else {
        in_lo = std::numeric_limits<double>::infinity();  // no closed form: test every column
      }
      continue;
    }
    const double shift = slope_[k] * qy, lo = lo_[k] + shift, hi = hi_[k] + shift;
    in_lo = std::max(in_lo, lo + guard_[k]);
    in_hi = std::min(in_hi, hi - guard_[k]);
    may_lo = std::max(may_lo, lo - guard_[k]);
    may_hi = std::min(may_hi, hi + guard_[k]);
  }
  const double c0 = c0_, c1 = c1_;
  const int may_first = static_cast<int>(std::ceil(std::min(may_lo, c1 + 1)));
  const int may_last = static_cast<int>(std::floor(std::max(may_hi, c0 - 1)));
  int in_first = static_cast<int>(std::ceil(std::min(in_lo, c1 + 1)));
  int in_last = static_cast<int>(std::floor(std::max(in_hi, c0 - 1)));
  if (in_first <= in_last) {
    coverage_bits_set(line, in_first, in_last);
  } else {
    in_first = may_last + 1, in_last = may_last;
  }
  auto test = [&](int c) {
    uint64_t& word = line[c / 64];
    const uint64_t bit = uint64_t{1} << (c % 64);
    if (!(word & bit) && frame_.contains(*f_, x_min_ + (c + 0.5) * dx_, y)) word |= bit;
  };
  for (int c = may_first; c <= std::min(in_first - 1, may_last); ++c) test(c);
  for (int c = std::max(in_last + 1, may_first); c <= may_last; ++c) test(c);
}

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
  const int words = (cols + 63) / 64;
  std::vector<uint64_t> covered(static_cast<size_t>(sub_rows) * words, 0);

  const BeamFrame frame(voxels, t);
  const SubRowLookup sub_row(sub_y_centers);
  FootprintRow row(frame, grid, dx);
  BeamFrame::Footprint f;
  // The voxel's bounding box of sub-cells for a given slack (as project() + the scan use).
  int c0 = 0, c1 = 0, r_begin = 0, r_end = 0;
  auto box = [&](double slack) {
    const double rx = frame.hx * f.m + slack, ry = frame.hy * f.m + slack;
    c0 = std::max(0, static_cast<int>(std::ceil((f.u - rx - grid.x_min_mm) / dx - 0.5)));
    c1 = std::min(cols - 1, static_cast<int>(std::floor((f.u + rx - grid.x_min_mm) / dx - 0.5)));
    r_begin = sub_row.lower_bound(f.v - ry);
    r_end = std::max(r_begin, sub_row.upper_bound(f.v + ry));
    return c0 <= c1 && r_begin < r_end;
  };
  auto all_covered = [&] {
    for (int r = r_begin; r < r_end; ++r)
      if (!coverage_bits_all_set(covered.data() + static_cast<size_t>(r) * words, c0, c1)) return false;
    return true;
  };
  // Voxels coarse to fine (every 64th, then the ones halfway between, ... the odd ones
  // last): the union does not depend on the order, and the sparse first passes cover
  // most of the projection's interior, so that most later voxels fall on covered
  // sub-cells and are skipped cheaply (seed 1 phantom: 65 % skipped against 25 % in
  // raster order).
  const size_t voxel_count = voxels.centers_lps_mm.size();
  auto add_voxel = [&](const Vec3& p) {
    double distance = 0;
    if (!frame.project_centre(p, f, distance)) return;
    // Skip a voxel whose box, taken with a slack at least the true one, is covered
    // already, before paying for std::hypot.
    if (!box(frame.slack_upper_bound(f, distance)) || all_covered()) return;
    f.slack = frame.slack(f, distance);
    if (!box(f.slack)) return;
    row.start_voxel(f, c0, c1, frame.hy * f.m + f.slack);
    for (int r = r_begin; r < r_end; ++r) {
      uint64_t* line = covered.data() + static_cast<size_t>(r) * words;
      if (!coverage_bits_all_set(line, c0, c1)) row.add_row(sub_y_centers[static_cast<size_t>(r)], line);
    }
  };
  constexpr size_t kFirstStride = 64;
  for (size_t i = 0; i < voxel_count; i += kFirstStride) add_voxel(voxels.centers_lps_mm[i]);
  for (size_t stride = kFirstStride; stride > 1; stride /= 2)
    for (size_t i = stride / 2; i < voxel_count; i += stride) add_voxel(voxels.centers_lps_mm[i]);

  for (int sr = 0; sr < sub_rows; ++sr) {
    const int r = sub_row_of[sr];
    const float weight = 1.0f / static_cast<float>(subs_per_row[r] * kx);
    const uint64_t* line = covered.data() + static_cast<size_t>(sr) * words;
    float* out = coverage.data() + static_cast<size_t>(r) * grid.bixel_count;
    for (int b = 0; b < grid.bixel_count; ++b) {
      const int n = coverage_bits_count(line, b * kx, kx);
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
