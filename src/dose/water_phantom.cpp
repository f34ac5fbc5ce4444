#include "vmatplan/dose/water_phantom.h"

#include <algorithm>
#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/arc.h"

namespace vmatplan {
namespace {

int64_t odd_count(double extent_mm, double spacing_mm) {
  int64_t n = std::max<int64_t>(1, std::llround(extent_mm / spacing_mm));
  return n % 2 ? n : n + 1;
}

PlanGeometry single_beam(double gantry_deg) {
  PlanGeometry g;
  g.isocenter_mm = {0, 0, 0};
  g.patient_position = "HFS";
  Beam b;
  b.name = "water";
  b.control_points.push_back({gantry_deg, 0.0, 0.0});
  g.beams.push_back(b);
  return g;
}

// An open field [-fx/2, fx/2] x [-fy/2, fy/2] at the isocentre plane on rows and bixels
// of at most bixel_mm.
FluenceGrid open_field_grid(double fx, double fy, double bixel_mm) {
  FluenceGrid g;
  int rows = static_cast<int>(std::ceil(fy / bixel_mm - 1e-9));
  for (int r = 0; r <= rows; ++r) g.row_edges_mm.push_back(-0.5 * fy + r * fy / rows);
  g.bixel_count = static_cast<int>(std::ceil(fx / bixel_mm - 1e-9));
  g.bixel_width_mm = fx / g.bixel_count;
  g.x_min_mm = -0.5 * fx;
  return g;
}

struct Line {
  std::vector<double> pos, value;
  double at(double x) const {  // linear interpolation, clamped
    if (x <= pos.front()) return value.front();
    if (x >= pos.back()) return value.back();
    size_t i = std::upper_bound(pos.begin(), pos.end(), x) - pos.begin();
    double t = (x - pos[i - 1]) / (pos[i] - pos[i - 1]);
    return value[i - 1] + t * (value[i] - value[i - 1]);
  }
};

// Dose along the central axis (all depths) and, optionally, along x at the two voxel rows
// that bracket profile_depth_mm, for one open field.
struct WaterRun {
  Line depth_dose;   // (depth mm, Gy per MU)
  Line profile;      // (x mm, Gy per MU) at profile_depth_mm
};

WaterRun run_field(const Machine& machine, const Patient& water, const WaterSetup& s,
                   double fx, double fy, double profile_depth_mm, bool with_profile) {
  const ImageGrid& g = water.ct_hu.grid;
  const int64_t ic = g.size[0] / 2, kc = g.size[2] / 2;
  const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(profile_depth_mm / s.spacing_mm - 0.5)));
  Mask roi(g, 0);
  for (int64_t j = 0; j < g.size[1]; ++j) roi.at(ic, j, kc) = 1;
  if (with_profile)
    for (int64_t i = 0; i < g.size[0]; ++i) roi.at(i, j0, kc) = roi.at(i, j0 + 1, kc) = 1;
  DoseEngineOptions opt;
  opt.dose_spacing_mm = s.spacing_mm;
  opt.compute_mask = &roi;
  FluenceGrid grid = open_field_grid(fx, fy, s.bixel_mm);
  PencilBeamEngine engine(water, machine, single_beam(0.0), grid, opt);
  FluenceMaps f;
  f.grid = grid;
  f.control_point_count = 1;
  f.values.assign(grid.size_per_control_point(), 1.0f);
  Image3D<float> dose = engine.dose_image(f);
  if (!dose.grid.same_geometry(g)) throw ProcessingError("water: dose grid differs from CT grid");
  WaterRun r;
  for (int64_t j = 0; j < g.size[1]; ++j) {
    r.depth_dose.pos.push_back((j + 0.5) * s.spacing_mm);
    r.depth_dose.value.push_back(dose.at(ic, j, kc));
  }
  if (with_profile) {
    const double t = (profile_depth_mm - (j0 + 0.5) * s.spacing_mm) / s.spacing_mm;
    for (int64_t i = 0; i < g.size[0]; ++i) {
      r.profile.pos.push_back((i - ic) * s.spacing_mm);
      r.profile.value.push_back((1 - t) * dose.at(i, j0, kc) + t * dose.at(i, j0 + 1, kc));
    }
  }
  return r;
}

// Outermost-from-centre crossing of `level` (fraction of the centre value) on one side.
double crossing(const Line& p, double level, int side) {
  const int64_t n = static_cast<int64_t>(p.pos.size()), c = n / 2;
  const double ref = p.value[c];
  for (int64_t i = c; i + side >= 0 && i + side < n; i += side) {
    double a = p.value[i] / ref, b = p.value[i + side] / ref;
    if (a >= level && b < level) return p.pos[i] + (a - level) / (a - b) * (p.pos[i + side] - p.pos[i]);
  }
  throw ProcessingError("water: profile does not fall below " + std::to_string(level * 100) +
                        " % inside the phantom; widen the phantom");
}

Patient water_for(const WaterSetup& s) {
  const double sad = 1000.0;
  return make_water_box(s.width_mm, s.depth_mm, 5 * s.spacing_mm, s.spacing_mm, s.ssd_mm - sad);
}

}  // namespace

Patient make_water_box(double width_mm, double depth_mm, double thickness_mm,
                       double spacing_mm, double surface_y_mm, float hu) {
  if (!(spacing_mm > 0) || !(width_mm > 0) || !(depth_mm > 0) || !(thickness_mm > 0))
    throw UsageError("water box: sizes and spacing must be positive");
  ImageGrid g;
  g.size = {odd_count(width_mm, spacing_mm), std::max<int64_t>(1, std::llround(depth_mm / spacing_mm)),
            odd_count(thickness_mm, spacing_mm)};
  g.spacing_mm = {spacing_mm, spacing_mm, spacing_mm};
  g.origin_mm = {-0.5 * (g.size[0] - 1) * spacing_mm, surface_y_mm + 0.5 * spacing_mm,
                 -0.5 * (g.size[2] - 1) * spacing_mm};
  Patient p;
  p.ct_hu = CtImage(g, hu);
  Structure body;
  body.number = 1;
  body.name = "BODY";
  body.type = "EXTERNAL";
  body.mask = Mask(g, 1);
  p.structures.push_back(std::move(body));
  p.identity.patient_position = "HFS";
  p.identity.patient_id = "WATER";
  p.source = "water box";
  return p;
}

std::vector<std::pair<double, double>> water_depth_dose(const Machine& machine,
                                                        const WaterSetup& setup,
                                                        double field_x_mm, double field_y_mm) {
  Patient water = water_for(setup);
  WaterRun r = run_field(machine, water, setup, field_x_mm, field_y_mm, 0.0, false);
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < r.depth_dose.pos.size(); ++i)
    out.emplace_back(r.depth_dose.pos[i], r.depth_dose.value[i]);
  return out;
}

WaterFigures measure_water(const Machine& machine, const WaterSetup& s) {
  Patient water = water_for(s);
  WaterFigures w;
  WaterRun main = run_field(machine, water, s, s.field_x_mm, s.field_y_mm, 100.0, true);
  const Line& dd = main.depth_dose;
  size_t m = std::max_element(dd.value.begin(), dd.value.end()) - dd.value.begin();
  if (m == 0 || m + 1 >= dd.value.size()) throw ProcessingError("water: no build-up maximum found");
  {  // parabola through the maximum and its neighbours
    double y0 = dd.value[m - 1], y1 = dd.value[m], y2 = dd.value[m + 1];
    double off = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2);
    w.dmax_mm = dd.pos[m] + off * s.spacing_mm;
    w.dose_per_mu_at_dmax_gy = y1 - 0.25 * (y0 - y2) * off;
  }
  auto pdd = [&](double d) { return 100.0 * dd.at(d) / w.dose_per_mu_at_dmax_gy; };
  w.pdd5_percent = pdd(50);
  w.pdd10_percent = pdd(100);
  w.pdd20_percent = pdd(200);
  for (size_t i = 0; i < dd.pos.size(); ++i) w.pdd_percent.emplace_back(dd.pos[i], pdd(dd.pos[i]));

  const Line& pr = main.profile;
  const double left20 = crossing(pr, 0.2, -1), left80 = crossing(pr, 0.8, -1);
  const double right20 = crossing(pr, 0.2, +1), right80 = crossing(pr, 0.8, +1);
  w.profile_width_50_mm = crossing(pr, 0.5, +1) - crossing(pr, 0.5, -1);
  w.profile_width_80_mm = right80 - left80;
  w.penumbra_20_80_mm = 0.5 * ((right20 - right80) + (left80 - left20));
  const double centre = pr.value[pr.pos.size() / 2];
  for (size_t i = 0; i < pr.pos.size(); ++i)
    w.profile_percent.emplace_back(pr.pos[i], 100.0 * pr.value[i] / centre);

  std::map<double, double> dose;
  for (double f : s.output_factor_fields_mm)
    dose[f] = run_field(machine, water, s, f, f, 0.0, false).depth_dose.at(s.output_factor_depth_mm);
  double ref = dose.count(100.0) ? dose[100.0]
                                 : run_field(machine, water, s, 100, 100, 0.0, false)
                                       .depth_dose.at(s.output_factor_depth_mm);
  for (const auto& [f, d] : dose) w.output_factors[f] = d / ref;
  return w;
}

}  // namespace vmatplan
