#pragma once
// Synthetic fluence plans for sequencing tests: arcs on a generic machine with a smooth
// Gaussian blob per control point (drifting with the gantry) or random smooth fluence
// (a few seeded Gaussians per control point).
#include <cmath>
#include <random>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan::test {

enum class FluenceShape { kBlob, kRandomSmooth };

inline PlanFile synthetic_fluence_plan(const Machine& m, int arcs, FluenceShape shape,
                                       unsigned seed = 1, double peak_mu = 8.0,
                                       double half_field_mm = 40.0) {
  PlanFile p;
  p.machine_name = m.name;
  p.geometry.isocenter_mm = {10, -20, 5};
  auto specs = default_two_arcs(4.0);
  for (int a = 0; a < arcs; ++a) {
    Beam b;
    b.name = "Arc " + std::to_string(a + 1);
    b.direction = specs[a % 2].direction;
    b.control_points = arc_control_points(specs[a % 2]);
    b.x1_mm = m.x_jaws.present ? -half_field_mm : 0;
    b.x2_mm = m.x_jaws.present ? half_field_mm : 0;
    b.y1_mm = -half_field_mm, b.y2_mm = half_field_mm;
    p.geometry.beams.push_back(b);
  }
  FluenceMaps& f = p.fluence;
  f.grid = FluenceGrid::covering(m.mlc, -half_field_mm, half_field_mm, -half_field_mm,
                                 half_field_mm, 5.0);
  f.control_point_count = p.geometry.control_point_count();
  f.values.assign(static_cast<size_t>(f.control_point_count) * f.grid.size_per_control_point(), 0.f);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  int cp = 0;
  for (const auto& b : p.geometry.beams)
    for (const auto& g : b.control_points) {
      const double t = g.gantry_deg * M_PI / 180.0;
      struct G { double x, y, s, a; };
      std::vector<G> gs;
      if (shape == FluenceShape::kBlob) {
        gs.push_back({15 * std::sin(t), 8 * std::cos(t), 14, 1.0});
      } else {
        for (int k = 0; k < 3; ++k)
          gs.push_back({20 * u(rng), 20 * u(rng), 8 + 4 * (u(rng) + 1), 0.4 + 0.3 * (u(rng) + 1)});
      }
      const FluenceGrid& gr = f.grid;
      for (int r = 0; r < gr.row_count(); ++r) {
        const double y = 0.5 * (gr.row_edges_mm[r] + gr.row_edges_mm[r + 1]);
        for (int c = 0; c < gr.bixel_count; ++c) {
          const double x = gr.bixel_center_mm(c);
          if (std::abs(x) > half_field_mm - 5 || std::abs(y) > half_field_mm - 5) continue;
          double v = 0;
          for (const auto& q : gs)
            v += q.a * std::exp(-((x - q.x) * (x - q.x) + (y - q.y) * (y - q.y)) / (2 * q.s * q.s));
          f.at(cp, r, c) = static_cast<float>(peak_mu * v);
        }
      }
      ++cp;
    }
  return p;
}

}  // namespace vmatplan::test
