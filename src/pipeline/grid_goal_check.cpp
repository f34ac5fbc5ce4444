#include "vmatplan/pipeline/grid_goal_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vmatplan {
namespace {

const Structure* find_structure(const Patient& p, const std::string& name) {
  for (const Structure& s : p.structures)
    if (s.name == name) return &s;
  return nullptr;
}

// Dose at a CT voxel centre: the nearest dose voxel, 0 outside the dose grid.
float dose_at(const DoseImage& dose, const ImageGrid& ct, int64_t i, int64_t j, int64_t k) {
  const Vec3 c = dose.grid.physical_to_index(ct.index_to_physical({double(i), double(j), double(k)}));
  const int64_t a = std::lround(c[0]), b = std::lround(c[1]), z = std::lround(c[2]);
  return dose.grid.contains_index(a, b, z) ? dose.at(a, b, z) : 0.0f;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::vector<size_t> goals_lost_between(const PlanEvaluation& optimised, const PlanEvaluation& final_eval) {
  std::vector<size_t> out;
  const size_t n = std::min(optimised.goals.size(), final_eval.goals.size());
  for (size_t g = 0; g < n; ++g)
    if (optimised.goals[g].pass && !final_eval.goals[g].pass &&
        final_eval.goals[g].status != GoalStatus::kNotEvaluated)
      out.push_back(g);
  return out;
}

std::vector<std::string> goals_lost_on_final_grid(const Patient& patient, const PlanEvaluation& optimised,
                                                  const PlanEvaluation& final_eval,
                                                  const DoseImage& final_dose,
                                                  double optimisation_spacing_mm,
                                                  double final_spacing_mm) {
  std::vector<std::string> out;
  for (size_t g : goals_lost_between(optimised, final_eval)) {
    const GoalResult& before = optimised.goals[g];
    const GoalResult& after = final_eval.goals[g];
    const MetricSpec& metric = after.goal.metric;
    std::string line = "goal " + after.structure + " " + metric.text + " " +
                       (after.goal.comparison == GoalComparison::kAtLeast ? ">= " : "<= ") +
                       fmt("%g", after.goal.acceptable) + " " + metric.value_unit() + " was met on the " +
                       fmt("%g", optimisation_spacing_mm) + " mm optimisation grid (" +
                       fmt("%.2f", before.value) + ") but fails on the " + fmt("%g", final_spacing_mm) +
                       " mm final dose (" + fmt("%.2f", after.value) + ")";
    // The voxels beyond the goal's dose level: below it for a minimum dose, above it for
    // a maximum dose or a volume above a dose.
    double level = 0;
    bool cold = false;
    if (metric.value_unit() == "Gy") level = after.goal.acceptable, cold = after.goal.comparison == GoalComparison::kAtLeast;
    else if (!metric.text.empty() && metric.text[0] == 'V') level = metric.parameter;
    const Structure* s = find_structure(patient, after.structure);
    if (s && level > 0) {
      const ImageGrid& ct = s->mask.grid;
      const double edge_mm = 2.0 * final_spacing_mm;
      int64_t inside = 0, beyond = 0, at_scan_edge = 0, at_surface = 0;
      const int64_t reach = std::max<int64_t>(1, std::lround(final_spacing_mm / ct.spacing_mm[0]));
      for (int64_t k = 0; k < ct.size[2]; ++k)
        for (int64_t j = 0; j < ct.size[1]; ++j)
          for (int64_t i = 0; i < ct.size[0]; ++i) {
            if (!s->mask.at(i, j, k)) continue;
            ++inside;
            const float d = dose_at(final_dose, ct, i, j, k);
            if (cold ? d >= level : d <= level) continue;
            ++beyond;
            if (std::min(k, ct.size[2] - 1 - k) * ct.spacing_mm[2] < edge_mm) ++at_scan_edge;
            bool surface = false;
            for (int64_t dk = -1; dk <= 1 && !surface; ++dk)
              for (int64_t dj = -reach; dj <= reach && !surface; ++dj)
                for (int64_t di = -reach; di <= reach && !surface; ++di)
                  surface = !ct.contains_index(i + di, j + dj, k + dk) || !s->mask.at(i + di, j + dj, k + dk);
            at_surface += surface;
          }
      if (inside > 0 && beyond > 0)
        line += "; " + fmt("%.1f", 100.0 * beyond / inside) + " % of " + after.structure + " is " +
                (cold ? "below " : "above ") + fmt("%g", level) + " Gy, of which " +
                fmt("%.0f", 100.0 * at_scan_edge / beyond) + " % within " + fmt("%g", edge_mm) +
                " mm of the scan's first or last slice and " + fmt("%.0f", 100.0 * at_surface / beyond) +
                " % on its surface";
    }
    out.push_back(line + " (a finer --dose-spacing optimises closer to the final grid)");
  }
  return out;
}

}  // namespace vmatplan
