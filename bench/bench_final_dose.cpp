// Final-dose path (calculate_dose, one control point at a time) on a synthetic pelvis
// (phantom seed 1, CT 420 x 320 x 80 at 1 x 1 x 2.5 mm), two full arcs: time and peak
// memory against dose-grid spacing and control-point count. Each configuration runs in
// its own process (this binary with --one), so the peak memory column is that
// configuration's; times are the median of the runs after one warm-up.
//
//   bench_final_dose [--threads N] [--runs R] [--spacings 5,3,2.5,2] [--control-points 91,182,362]
//   (control points: 91 = one arc at 4 deg, 182 = two arcs at 4 deg, 362 = two at 2 deg,
//   722 = two at 1 deg)
//                    [--engine]   (also the stored-operator PencilBeamEngine, set-up + forward)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/dose_calculation.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

namespace {

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) v.push_back(std::atof(item.c_str()));
  return v;
}

double cpu_s() {  // user + system time of this process, all threads
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Child: one configuration; writes "cps voxels pairs median_s min_s volume_s" to result_path.
std::vector<ArcSpec> arcs_for(int control_points) {
  const double step = control_points > 400 ? 1.0 : control_points > 200 ? 2.0 : 4.0;
  std::vector<ArcSpec> arcs = default_two_arcs(step);
  if (control_points <= 91) arcs.resize(1);
  return arcs;
}

int run_one(double spacing_mm, int control_points, int threads, int runs, bool engine,
            const std::string& result_path) {
  set_dose_engine_threads(threads);
  PelvisPhantomOptions po;
  po.seed = 1;
  const Patient patient = make_pelvis_phantom(po);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const PlanGeometry geometry =
      build_plan_geometry(patient, machine, arcs_for(control_points), "PTV", 5.0, {});
  FluenceMaps f;
  f.grid = fluence_grid_for_plan(geometry, machine, 5.0);
  f.control_point_count = static_cast<int>(geometry.control_point_count());
  f.values.resize(static_cast<size_t>(f.control_point_count) * f.grid.size_per_control_point());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  for (float& v : f.values) v = uni(rng);
  DoseEngineOptions opt;
  opt.dose_spacing_mm = spacing_mm;
  std::vector<double> t, cpu;
  DoseCalculationStats stats;
  runs = std::max(1, runs);  // a median needs at least one timed run after the warm-up
  for (int r = 0; r <= runs; ++r) {
    const double t0 = now_s(), c0 = cpu_s();
    if (engine) {
      PencilBeamEngine e(patient, machine, geometry, f.grid, opt);
      e.dose_image(f);
      stats.compute_voxels = static_cast<int64_t>(e.compute_voxels().size());
      stats.pairs = e.entry_count();
      stats.control_points = e.control_point_count();
    } else {
      calculate_dose(patient, machine, geometry, f, opt, &stats);
    }
    if (r > 0) t.push_back(now_s() - t0), cpu.push_back(cpu_s() - c0);  // run 0: warm-up
  }
  std::sort(t.begin(), t.end());
  std::sort(cpu.begin(), cpu.end());
  std::ofstream out(result_path);
  out << geometry.control_point_count() << " " << stats.compute_voxels << " " << stats.pairs << " "
      << t[t.size() / 2] << " " << t.front() << " " << stats.volume_seconds << " "
      << cpu[cpu.size() / 2] << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  int threads = 2, runs = 3;
  bool engine = false;
  std::vector<double> spacings{5, 3, 2.5, 2}, control_points{91, 182, 362};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--one" && i + 6 < argc) {
      return run_one(std::atof(argv[i + 1]), std::atoi(argv[i + 2]), std::atoi(argv[i + 4]),
                     std::atoi(argv[i + 5]), std::atoi(argv[i + 6]) != 0, argv[i + 3]);
    }
    if (i + 1 >= argc && a != "--engine") break;
    if (a == "--threads") threads = std::atoi(argv[++i]);
    else if (a == "--runs") runs = std::atoi(argv[++i]);
    else if (a == "--spacings") spacings = parse_list(argv[++i]);
    else if (a == "--control-points") control_points = parse_list(argv[++i]);
    else if (a == "--engine") engine = true;
  }
  std::printf("%s, pelvis phantom seed 1, two full arcs, 5 mm bixels, random fluence; %d threads, "
              "median of %d runs\n\n",
              engine ? "PencilBeamEngine (stored operator): set-up + forward"
                     : "calculate_dose (streaming final-dose path)",
              threads, runs);
  std::printf("| grid mm | control points | body voxels | pairs (M) | median s | min s | cpu s "
              "| volume s | cpu ns per pair | peak MB |\n|---|---|---|---|---|---|---|---|---|---|\n");
  const std::string self = argv[0];
  for (double s : spacings)
    for (double c : control_points) {
      const std::string result = "/tmp/bench_final_dose_" + std::to_string(::getpid()) + ".txt";
      char cmd[512];
      std::snprintf(cmd, sizeof cmd, "%s --one %g %g %s %d %d %d", self.c_str(), s, c,
                    result.c_str(), threads, runs, engine ? 1 : 0);
      const bench::ProcessRun run = bench::run_process(cmd);
      std::ifstream in(result);
      long long cps = 0, voxels = 0, pairs = 0;
      double median = 0, min = 0, volume = 0, cpu = 0;
      if (run.exit_code != 0 || !(in >> cps >> voxels >> pairs >> median >> min >> volume >> cpu)) {
        std::printf("| %g | (%g) | failed | | | | | | | |\n", s, c);
        continue;
      }
      std::remove(result.c_str());
      std::printf("| %g | %lld | %lld | %.1f | %.3f | %.3f | %.3f | %.3f | %.1f | %.0f |\n", s, cps,
                  voxels, pairs / 1e6, median, min, cpu, volume, 1e9 * cpu / std::max(1LL, pairs),
                  run.peak_rss_mb);
      std::fflush(stdout);
    }
  return 0;
}
