// Pencil-beam dose engine benchmark: a synthetic prostate patient (pelvis phantom seed 1),
// two full arcs at 4 deg (~180 control points), 5 mm bixels. Times set-up (ray tracing),
// forward + gradient on a 5 mm dose grid and forward on a 2.5 mm grid at N threads
// (default 2), after one warm-up, and prints a table with peak memory (getrusage).
//
//   bench_dose [threads] [runs] [--no-fine]   (--no-fine: skip the 2.5 mm grid)
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_support.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

namespace {

double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

double cpu_s() {  // user + system time of the process
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
  double min_s = 0, median_s = 0, cpu_s = 0;  // cpu_s: median CPU seconds per run
};

// Wall time (min, median) and CPU time after a warm-up. On a shared machine the CPU time
// divided by the threads shows what an idle machine would give.
template <class F>
Timing time_runs(F body, int runs) {
  body();
  std::vector<double> t, c;
  for (int n = 0; n < runs; ++n) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_s();
    body();
    c.push_back(cpu_s() - c0);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  return {t.front(), t[t.size() / 2], c[c.size() / 2]};
}

void row(const char* what, const Timing& t, const char* target, const char* note) {
  std::printf("| %-34s | %8.3f | %8.3f | %8.3f | %9.0f | %-8s | %s\n", what, t.min_s, t.median_s,
              t.cpu_s, peak_rss_mb(), target, note);
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const bool fine = !(argc > 3 && std::string(argv[3]) == "--no-fine");
  set_thread_count(threads);
  set_dose_engine_threads(threads);

  PelvisPhantomOptions po;
  po.seed = 1;
  Patient patient = make_pelvis_phantom(po);
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  PlanGeometry geometry = build_plan_geometry(patient, machine, default_two_arcs(4.0), "PTV", 5.0, {});
  FluenceGrid grid = fluence_grid_for_plan(geometry, machine, 5.0);
  const int64_t cps = geometry.control_point_count();
  std::printf("pelvis phantom seed 1: CT %lld x %lld x %lld; %lld control points; fluence %d x %d "
              "(rows x bixels); %d threads\n\n",
              (long long)patient.ct_hu.grid.size[0], (long long)patient.ct_hu.grid.size[1],
              (long long)patient.ct_hu.grid.size[2], (long long)cps, grid.row_count(),
              grid.bixel_count, threads);
  std::printf("| %-34s | %8s | %8s | %8s | %9s | %-8s | %s\n", "what", "min s", "median s",
              "cpu s", "peak MB", "target", "notes");
  std::printf("|%s|%s|%s|%s|%s|%s|%s\n", std::string(36, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(11, '-').c_str(),
              std::string(10, '-').c_str(), std::string(30, '-').c_str());

  torch::manual_seed(0);
  torch::Tensor f = torch::rand({cps, grid.row_count(), grid.bixel_count});
  char note[160];
  {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_s();
    DoseEngineOptions opt;
    opt.dose_spacing_mm = 5.0;
    PencilBeamEngine e(patient, machine, geometry, grid, opt);
    double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Timing st{setup, setup, cpu_s() - c0};
    std::snprintf(note, sizeof note, "%zu voxels, %lld entries, %.0f MB held, %lld/%lld lattice",
                  e.compute_voxels().size(), (long long)e.entry_count(), e.memory_bytes() / 1e6,
                  (long long)e.lattice_control_points(), (long long)cps);
    row("set-up, 5 mm grid", st, "-", note);
    auto fg = time_runs([&] {
      torch::Tensor x = f.clone().requires_grad_();
      torch::Tensor d = e.dose_at_voxels(x);
      torch::Tensor loss = (d - 0.3).pow(2).sum();
      loss.backward();
    }, runs);
    row("forward + gradient, 5 mm grid", fg, "<= 0.5", "quadratic objective");
    auto fw = time_runs([&] {
      torch::NoGradGuard ng;
      e.dose(f);
    }, runs);
    row("forward, 5 mm grid", fw, "-", "full [nz,ny,nx] volume");
  }
  if (fine) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_s();
    DoseEngineOptions opt;
    opt.dose_spacing_mm = 2.5;
    PencilBeamEngine e(patient, machine, geometry, grid, opt);
    double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Timing st{setup, setup, cpu_s() - c0};
    std::snprintf(note, sizeof note, "%zu voxels, %lld entries, %.0f MB held, %lld/%lld lattice",
                  e.compute_voxels().size(), (long long)e.entry_count(), e.memory_bytes() / 1e6,
                  (long long)e.lattice_control_points(), (long long)cps);
    row("set-up, 2.5 mm grid", st, "-", note);
    auto fw = time_runs([&] {
      torch::NoGradGuard ng;
      e.dose(f);
    }, std::max(1, runs / 2));
    row("forward, 2.5 mm grid", fw, "<= 5", "full [nz,ny,nx] volume");
  }
  return 0;
}
