// Sequencing benchmark: a 2-arc plan (2 x 91 control points at 4 deg, 5 mm bixels, 80 x 80
// mm field, random smooth fluence) -> apertures + MU, plus the delivered-fluence and
// deliverability passes. Prints a table (median of 5 runs after a warm-up); never asserts.
// Sequencing + dose-based meterset re-optimization on patients (which needs the dose
// engine) is timed per patient by bench_sequence_study.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "bench_support.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/complexity.h"
#include "vmatplan/sequence/deliverability.h"
#include "vmatplan/sequence/delivered_fluence.h"

using namespace vmatplan;

namespace {

PlanFile make_plan(const Machine& m) {
  PlanFile p;
  p.machine_name = m.name;
  for (const auto& spec : default_two_arcs(4.0)) {
    Beam b;
    b.name = spec.direction == RotationDirection::kClockwise ? "Arc CW" : "Arc CC";
    b.direction = spec.direction;
    b.control_points = arc_control_points(spec);
    b.x1_mm = b.y1_mm = -40, b.x2_mm = b.y2_mm = 40;
    p.geometry.beams.push_back(b);
  }
  FluenceMaps& f = p.fluence;
  f.grid = FluenceGrid::covering(m.mlc, -40, 40, -40, 40, 5.0);
  f.control_point_count = p.geometry.control_point_count();
  f.values.assign(static_cast<size_t>(f.control_point_count) * f.grid.size_per_control_point(), 0.f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int c = 0; c < f.control_point_count; ++c) {
    double gx[3], gy[3], gs[3];
    for (int k = 0; k < 3; ++k) gx[k] = 20 * u(rng), gy[k] = 20 * u(rng), gs[k] = 10 + 4 * u(rng);
    for (int r = 0; r < f.grid.row_count(); ++r)
      for (int b = 0; b < f.grid.bixel_count; ++b) {
        const double x = f.grid.bixel_center_mm(b);
        const double y = 0.5 * (f.grid.row_edges_mm[r] + f.grid.row_edges_mm[r + 1]);
        double v = 0;
        for (int k = 0; k < 3; ++k)
          v += std::exp(-((x - gx[k]) * (x - gx[k]) + (y - gy[k]) * (y - gy[k])) / (2 * gs[k] * gs[k]));
        f.at(c, r, b) = static_cast<float>(4.0 * v);
      }
  }
  return p;
}

double median_s(const std::function<void()>& fn, int runs = 5) {
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  const PlanFile plan = make_plan(m);
  SequencedPlan s;
  const double t_seq = median_s([&] { s = sequence_arcs(plan, m, {}); });
  const double t_flu = median_s([&] { delivered_fluence(s.plan, plan.fluence.grid, m, {}); });
  const double t_chk = median_s([&] { check_deliverability(s.plan, m); });
  const PlanComplexity c = compute_complexity(s.plan, m);
  size_t cps = 0;
  for (const auto& b : s.plan.beams) cps += b.control_points.size();
  std::printf("bench_sequence: 2 arcs, %d input control points -> %zu delivery control points, grid %d x %d\n",
              plan.fluence.control_point_count, cps, plan.fluence.grid.row_count(), plan.fluence.grid.bixel_count);
  std::printf("%-36s %10s\n", "step", "median_s");
  std::printf("%-36s %10.4f\n", "sequence_arcs (incl. checker)", t_seq);
  std::printf("%-36s %10.4f\n", "delivered_fluence", t_flu);
  std::printf("%-36s %10.4f\n", "check_deliverability", t_chk);
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  std::printf("peak memory %.0f MB\n", u.ru_maxrss / 1024.0);
  std::printf("plan: %.1f MU per fraction, beam-on %.1f s, MCSv %.3f, violations %zu\n", c.total_mu,
              c.delivery_time_s, c.mcsv, check_deliverability(s.plan, m).size());
  return 0;
}
