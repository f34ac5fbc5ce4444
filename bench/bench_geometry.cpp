// Beam's-eye-view projection speed: a prostate PTV from a synthetic pelvis (1 x 1 x 2.5 mm
// CT) projected for every control point of two full arcs at 4 deg, 5 mm bixels.
//   bench_geometry [--runs N] [--seed S]
#include <chrono>
#include <cstdlib>
#include <string>

#include "bench_support.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  int runs = 5;
  uint64_t seed = 1;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a];
    if (k == "--runs") runs = std::atoi(argv[a + 1]);
    if (k == "--seed") seed = std::strtoull(argv[a + 1], nullptr, 10);
  }
  PelvisPhantomOptions opt;
  opt.seed = seed;
  Patient p = make_pelvis_phantom(opt);
  Machine m = Machine::load_named("generic_6mv_mlc120");
  auto clock = [] { return std::chrono::steady_clock::now(); };
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };

  auto t0 = clock();
  PlanGeometry g = build_plan_geometry(p, m, default_two_arcs(4.0), "PTV", 5.0, {});
  double build_s = secs(t0, clock());
  FluenceGrid grid = fluence_grid_for_plan(g, m, 5.0);
  const Mask& ptv = p.find_structure("PTV")->mask;
  t0 = clock();
  VoxelCloud cloud = extract_voxels(ptv);
  double extract_s = secs(t0, clock());

  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    t0 = clock();
    for (const Beam& b : g.beams)
      for (const auto& cp : b.control_points) {
        BeamTransform t(g.patient_position, g.isocenter_mm, cp.gantry_deg, cp.collimator_deg,
                        cp.couch_deg, m.sad_mm);
        volatile float sink = project_voxels(cloud, t, grid)[0];
        (void)sink;
      }
    times.push_back(secs(t0, clock()));
  }
  std::sort(times.begin(), times.end());
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  std::printf("PTV %zu surface voxels, %d control points, grid %d rows x %d bixels\n\n",
              cloud.centers_lps_mm.size(), g.control_point_count(), grid.row_count(),
              grid.bixel_count);
  std::printf("| %-44s | %8s | %8s |\n", "what", "min s", "median s");
  std::printf("| %-44s | %8.3f | %8s |\n", "build_plan_geometry (isocentre, jaws)", build_s, "-");
  std::printf("| %-44s | %8.3f | %8s |\n", "extract PTV surface voxels", extract_s, "-");
  std::printf("| %-44s | %8.3f | %8.3f |\n", "BEV projection, all control points", times.front(),
              times[times.size() / 2]);
  std::printf("\npeak memory %.1f MB\n", u.ru_maxrss / 1024.0);
  return 0;
}
