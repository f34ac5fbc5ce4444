// compute_bev_conditioning and project_voxels against the straightforward formulas they
// were first written as (kept here verbatim: one contains() test per sub-cell of each
// voxel's bounding box, and a plain voxel walk per bixel ray). The fast versions skip work
// that cannot change a value, so every value must be bit-identical: the shipped fluence
// generator was trained on exactly these inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "vmatplan/geometry/beams_eye_view.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_roles.h"

using namespace vmatplan;

namespace {

double reference_dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

struct ReferenceBeamFrame {
  Vec3 ex, ey, ez, iso;
  double hx = 0, hy = 0, hz = 0, sad = 1000;
  std::array<std::array<double, 2>, 3> normals{};
  std::array<double, 3> widths{};
  int normal_count = 0;

  ReferenceBeamFrame(const VoxelCloud& v, const BeamTransform& t) {
    const Mat3& r = t.bld_to_lps_rotation();
    ex = {r[0], r[3], r[6]};
    ey = {r[1], r[4], r[7]};
    ez = {r[2], r[5], r[8]};
    iso = t.bld_to_patient({0, 0, 0});
    sad = t.sad_mm();
    std::array<std::array<double, 2>, 3> g{};
    for (int c = 0; c < 3; ++c) {
      const Vec3& h = v.half_axes_mm[c];
      g[c] = {reference_dot(ex, h), reference_dot(ey, h)};
      hx += std::abs(g[c][0]);
      hy += std::abs(g[c][1]);
      hz += std::abs(reference_dot(ez, h));
    }
    for (int c = 0; c < 3; ++c) {
      double len = std::hypot(g[c][0], g[c][1]);
      if (len < 1e-9) continue;
      std::array<double, 2> n{-g[c][1] / len, g[c][0] / len};
      double w = 0;
      for (int j = 0; j < 3; ++j) w += std::abs(n[0] * g[j][0] + n[1] * g[j][1]);
      normals[normal_count] = n;
      widths[normal_count++] = w;
    }
  }
  struct Footprint {
    double u, v, m, slack;
  };
  bool project(const Vec3& p, Footprint& f) const {
    Vec3 d{p[0] - iso[0], p[1] - iso[1], p[2] - iso[2]};
    double distance = sad - reference_dot(ez, d);
    if (distance - hz < 1.0) return false;
    f.m = sad / distance;
    f.u = reference_dot(ex, d) * f.m;
    f.v = reference_dot(ey, d) * f.m;
    f.slack = std::hypot(f.u, f.v) * hz / (distance - hz);
    return true;
  }
  bool contains(const Footprint& f, double x, double y) const {
    const double qx = x - f.u, qy = y - f.v;
    for (int k = 0; k < normal_count; ++k)
      if (std::abs(normals[k][0] * qx + normals[k][1] * qy) > widths[k] * f.m + f.slack) return false;
    return true;
  }
};

std::vector<float> reference_project_voxels(const VoxelCloud& voxels, const BeamTransform& t,
                                            const FluenceGrid& grid, double subcell_mm = 0.5) {
  const int rows = grid.row_count();
  std::vector<float> coverage(static_cast<size_t>(grid.size_per_control_point()), 0.0f);
  if (rows <= 0 || grid.bixel_count <= 0 || voxels.centers_lps_mm.empty()) return coverage;
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
  const ReferenceBeamFrame frame(voxels, t);
  ReferenceBeamFrame::Footprint f;
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
  for (float& c : coverage) c = std::min(c, 1.0f);
  return coverage;
}

double reference_path_length_mm(const Mask& mask, const Vec3& a_lps, const Vec3& b_lps) {
  const ImageGrid& g = mask.grid;
  if (mask.empty()) return 0.0;
  const Vec3 a = g.physical_to_index(a_lps), b = g.physical_to_index(b_lps);
  const double length_mm = std::hypot(b_lps[0] - a_lps[0], b_lps[1] - a_lps[1], b_lps[2] - a_lps[2]);
  const double inf = std::numeric_limits<double>::infinity();
  double d[3], t_in = 0.0, t_out = 1.0;
  for (int k = 0; k < 3; ++k) {
    d[k] = b[k] - a[k];
    const double lo = -0.5, hi = static_cast<double>(g.size[k]) - 0.5;
    if (std::abs(d[k]) < 1e-12) {
      if (a[k] < lo || a[k] > hi) return 0.0;
      continue;
    }
    double t0 = (lo - a[k]) / d[k], t1 = (hi - a[k]) / d[k];
    if (t0 > t1) std::swap(t0, t1);
    t_in = std::max(t_in, t0);
    t_out = std::min(t_out, t1);
  }
  if (!(t_out > t_in)) return 0.0;
  int64_t cur[3];
  int step[3];
  double t_max[3], t_delta[3];
  const double t_start = t_in + 1e-9 * (t_out - t_in);
  for (int k = 0; k < 3; ++k) {
    const double p = a[k] + t_start * d[k];
    cur[k] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(p + 0.5)), 0, g.size[k] - 1);
    if (d[k] > 0) {
      step[k] = 1, t_max[k] = (static_cast<double>(cur[k]) + 0.5 - a[k]) / d[k], t_delta[k] = 1.0 / d[k];
    } else if (d[k] < 0) {
      step[k] = -1, t_max[k] = (static_cast<double>(cur[k]) - 0.5 - a[k]) / d[k], t_delta[k] = -1.0 / d[k];
    } else {
      step[k] = 0, t_max[k] = inf, t_delta[k] = inf;
    }
  }
  double t = t_in, inside = 0.0;
  for (;;) {
    const int k = t_max[0] < t_max[1] ? (t_max[0] < t_max[2] ? 0 : 2) : (t_max[1] < t_max[2] ? 1 : 2);
    const double t_next = std::min(t_max[k], t_out);
    if (mask.at(cur[0], cur[1], cur[2])) inside += t_next - t;
    if (t_max[k] >= t_out) break;
    t = t_max[k];
    cur[k] += step[k];
    if (cur[k] < 0 || cur[k] >= g.size[k]) break;
    t_max[k] += t_delta[k];
  }
  return inside * length_mm;
}

// Largest |a - b| over two equally long vectors.
double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

}  // namespace

TEST_CASE("BEV conditioning equals the reference formulas on a pelvis phantom",
          "[geometry][bev][conditioning]") {
  // The benchmark's case (bench_generator): seed 1 at 2 x 2 x 2.5 mm, two arcs at 4 deg;
  // a few control points of each arc, and one with collimator and couch turned.
  PelvisPhantomOptions po;
  po.seed = 1;
  po.spacing_mm = {2.0, 2.0, 2.5};
  const Patient patient = make_pelvis_phantom(po);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const StructureRoles roles = StructureRoles::load_default();
  const Structure& ptv = roles.resolve(patient, "ptv");
  const PlanGeometry full = build_plan_geometry(patient, machine, default_two_arcs(4.0), ptv.name, 5.0, {});
  const FluenceGrid grid = fluence_grid_for_plan(full, machine, 5.0);
  PlanGeometry geometry = full;
  for (Beam& b : geometry.beams) {
    std::vector<ControlPointGeometry> kept;
    for (size_t i = 0; i < b.control_points.size(); i += 15) kept.push_back(b.control_points[i]);
    b.control_points = kept;
  }
  geometry.beams[0].control_points.push_back({90.0, 30.0, 10.0});
  const BevConditioning c = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, machine.sad_mm});

  std::array<const Structure*, kBevChannelCount> structure{};
  structure[kChannelTarget] = &ptv;
  for (int ch = kChannelRectum; ch < kChannelBodyDepth; ++ch) structure[ch] = roles.find(patient, kBevChannelNames[ch]);
  const Structure* body = roles.find(patient, "body");
  REQUIRE(body);
  double worst = 0;
  size_t checked = 0;
  int cpi = 0;
  for (const Beam& beam : geometry.beams)
    for (const ControlPointGeometry& cp : beam.control_points) {
      const BeamTransform t(geometry.patient_position, geometry.isocenter_mm, cp.gantry_deg, cp.collimator_deg,
                            cp.couch_deg, machine.sad_mm);
      for (int ch = 0; ch < kChannelBodyDepth; ++ch) {
        REQUIRE(structure[ch]);
        const std::vector<float> expect = reference_project_voxels(extract_voxels(structure[ch]->mask), t, grid);
        const std::vector<float> got(c.values.begin() + long(c.index(cpi, ch, 0, 0)),
                                     c.values.begin() + long(c.index(cpi, ch, 0, 0) + expect.size()));
        worst = std::max(worst, max_difference(got, expect));
        checked += expect.size();
      }
      const Vec3 source = t.source_lps();
      for (int r = 0; r < c.rows; ++r) {
        const double y = 0.5 * (grid.row_edges_mm[r] + grid.row_edges_mm[r + 1]);
        for (int b = 0; b < c.bixels; ++b) {
          const float expect = static_cast<float>(
              reference_path_length_mm(body->mask, source, t.bld_to_patient({grid.bixel_center_mm(b), y, 0.0})) /
              kBodyDepthScaleMm);
          worst = std::max(worst, std::abs(double(c.at(cpi, kChannelBodyDepth, r, b)) - expect));
          ++checked;
        }
      }
      ++cpi;
    }
  INFO(checked << " values, largest difference " << worst);
  CHECK(checked > 10000);
  CHECK(worst == 0.0);
}

TEST_CASE("project_voxels equals the reference scan for turned beams and sub-cell sizes", "[geometry][bev]") {
  // An ellipsoid on an anisotropic grid; gantry 90 makes rotation entries of 6e-17 (edges
  // almost, not exactly, along BLD x), collimator and couch turn the voxel hexagons.
  ImageGrid g;
  g.size = {60, 50, 30};
  g.spacing_mm = {1.5, 2.0, 3.0};
  g.origin_mm = {-45, -50, -45};
  Mask mask(g, 0);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        mask.at(i, j, k) = std::pow(p[0] / 35, 2) + std::pow((p[1] + 5) / 25, 2) + std::pow(p[2] / 30, 2) <= 1;
      }
  const VoxelCloud cloud = extract_voxels(mask);
  static const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const FluenceGrid grid = FluenceGrid::covering(machine.mlc, -60, 60, -45, 45, 5.0);
  for (const auto& [gantry, coll, couch] : std::vector<std::array<double, 3>>{
           {0, 0, 0}, {90, 0, 0}, {180, 0, 0}, {47, 0, 0}, {90, 30, 0}, {133, 15, 350}, {270, 90, 20}}) {
    const BeamTransform t("HFS", {2, -3, 1}, gantry, coll, couch, 1000);
    for (const double subcell : {0.5, 0.3, 1.25}) {
      INFO("gantry " << gantry << " collimator " << coll << " couch " << couch << " sub-cell " << subcell);
      const std::vector<float> expect = reference_project_voxels(cloud, t, grid, subcell);
      CHECK(max_difference(project_voxels(cloud, t, grid, subcell), expect) == 0.0);
    }
  }
}
