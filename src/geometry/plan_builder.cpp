#include "vmatplan/geometry/plan_builder.h"

#include <algorithm>
#include <cstdio>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

std::string mm(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f mm", v);
  return buf;
}

}  // namespace

Vec3 mask_centroid_mm(const Mask& mask) {
  const ImageGrid& g = mask.grid;
  double si = 0, sj = 0, sk = 0;
  int64_t n = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        if (mask.at(i, j, k)) {
          si += static_cast<double>(i);
          sj += static_cast<double>(j);
          sk += static_cast<double>(k);
          ++n;
        }
  if (n == 0) throw ProcessingError("cannot take the centroid of an empty mask");
  // index_to_physical is affine, so the centroid of the indices maps to the centroid.
  return g.index_to_physical({si / n, sj / n, sk / n});
}

void fit_jaws_to_target(Beam& beam, const VoxelCloud& target, const PlanGeometry& geometry,
                        const Machine& machine, double margin_mm) {
  BevExtent e;
  for (const auto& cp : beam.control_points)
    e.merge(projected_extent(target, BeamTransform(geometry.patient_position,
                                                   geometry.isocenter_mm, cp.gantry_deg,
                                                   cp.collimator_deg, cp.couch_deg,
                                                   machine.sad_mm)));
  if (e.empty) throw ProcessingError(beam.name + ": the target projects to nothing");
  double x1 = e.x1_mm - margin_mm, x2 = e.x2_mm + margin_mm;
  double y1 = e.y1_mm - margin_mm, y2 = e.y2_mm + margin_mm;

  auto too_large = [&](const std::string& what, double v, const std::string& limit, double l) {
    throw ProcessingError(beam.name + ": the target (+" + mm(margin_mm) + " margin) needs " +
                          what + " = " + mm(v) + ", beyond the machine's " + limit + " " +
                          mm(l) + " (" + machine.config_path + ")");
  };
  // A jaw may cross the central axis only up to its overtravel (IEC 61217 signs: X1/Y1
  // negative side, X2/Y2 positive side); opening it more than needed is always safe.
  auto fit_axis = [&](double& lo, double& hi, const JawModel& jaw, const std::string& n1,
                      const std::string& n2, double dev_min, double dev_max,
                      const std::string& device) {
    if (jaw.present) {
      lo = std::min(lo, jaw.max_overtravel_mm);
      hi = std::max(hi, -jaw.max_overtravel_mm);
      if (lo < jaw.min_pos_mm) too_large(n1, lo, n1 + " limit", jaw.min_pos_mm);
      if (hi > jaw.max_pos_mm) too_large(n2, hi, n2 + " limit", jaw.max_pos_mm);
    }
    if (lo < dev_min) too_large(n1, lo, device, dev_min);
    if (hi > dev_max) too_large(n2, hi, device, dev_max);
  };
  const MlcModel& mlc = machine.mlc;
  fit_axis(x1, x2, machine.x_jaws, "X1", "X2", mlc.leaf_min_pos_mm, mlc.leaf_max_pos_mm,
           "leaf travel limit");
  fit_axis(y1, y2, machine.y_jaws, "Y1", "Y2", mlc.leaf_boundaries_mm.front(),
           mlc.leaf_boundaries_mm.back(), "MLC edge");
  beam.x1_mm = x1;
  beam.x2_mm = x2;
  beam.y1_mm = y1;
  beam.y2_mm = y2;
}

PlanGeometry build_plan_geometry(const Patient& patient, const Machine& machine,
                                 const std::vector<ArcSpec>& arcs,
                                 const std::string& target_structure_name,
                                 double jaw_margin_mm, std::optional<Vec3> isocenter) {
  if (arcs.empty()) throw UsageError("a plan needs at least one arc or static beam");
  if (jaw_margin_mm < 0) throw UsageError("jaw margin must be >= 0 mm");
  const Structure* target = patient.find_structure(target_structure_name);
  if (!target) {
    std::string names;
    for (const auto& n : patient.structure_names()) names += (names.empty() ? "" : ", ") + n;
    throw ProcessingError("target structure '" + target_structure_name +
                          "' not found; the patient has: " + (names.empty() ? "none" : names));
  }
  PlanGeometry g;
  g.patient_position = patient.identity.patient_position;
  lps_to_iec_support(g.patient_position);  // UsageError for unsupported positions
  g.isocenter_mm = isocenter ? *isocenter : mask_centroid_mm(target->mask);
  const VoxelCloud voxels = extract_voxels(target->mask);
  if (voxels.centers_lps_mm.empty())
    throw ProcessingError("target structure '" + target_structure_name + "' is empty");

  int arc_no = 0, beam_no = 0;
  for (const ArcSpec& a : arcs) {
    Beam b;
    b.direction = a.direction;
    if (a.direction == RotationDirection::kNone) {
      b.name = "Beam " + std::to_string(++beam_no);
    } else {
      b.name = "Arc " + std::to_string(++arc_no);
      if (a.cp_spacing_deg > machine.max_cp_spacing_deg + 1e-9)
        throw UsageError(b.name + ": control-point spacing " + std::to_string(a.cp_spacing_deg) +
                         " deg exceeds the machine's max_cp_spacing_deg " +
                         std::to_string(machine.max_cp_spacing_deg));
    }
    b.control_points = arc_control_points(a);
    fit_jaws_to_target(b, voxels, g, machine, jaw_margin_mm);
    g.beams.push_back(std::move(b));
  }
  return g;
}

FluenceGrid fluence_grid_for_plan(const PlanGeometry& geometry, const Machine& machine,
                                  double bixel_width_mm) {
  if (geometry.beams.empty()) throw UsageError("fluence grid: the plan has no beams");
  double x1 = geometry.beams[0].x1_mm, x2 = geometry.beams[0].x2_mm;
  double y1 = geometry.beams[0].y1_mm, y2 = geometry.beams[0].y2_mm;
  for (const Beam& b : geometry.beams) {
    x1 = std::min(x1, b.x1_mm);
    x2 = std::max(x2, b.x2_mm);
    y1 = std::min(y1, b.y1_mm);
    y2 = std::max(y2, b.y2_mm);
  }
  return FluenceGrid::covering(machine.mlc, x1, x2, y1, y2, bixel_width_mm);
}

}  // namespace vmatplan
