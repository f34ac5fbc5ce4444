// FMD generator benchmark: time and peak memory of the fluence generators' parts on a
// synthetic prostate patient (pelvis phantom seed 1, 2 mm x 2 mm x 2.5 mm), two full arcs
// at 4 deg (2 x 91 control points) on the FMD canvas:
//   BEV conditioning (compute_bev_conditioning, both arcs)
//   student: 1 network evaluation per arc          (--generator fmd)
//   teacher: Heun, N steps = 2 N - 1 evaluations    (--generator fmd-teacher)
// With --weights DIR the model folder's networks are timed; without, untrained networks
// of the default architecture (the time does not depend on the weights' values).
// One warm-up, then the minimum and median of R runs; peak RSS is the process's so far.
//
//   bench_generator [--weights DIR] [--threads N] [--runs R] [--steps N] [--width W (untrained only)]
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_roles.h"
#include "vmatplan/pipeline/training_set.h"

using namespace vmatplan;

namespace {

double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

void row(const char* what, const std::function<void()>& body, int runs, const char* note) {
  body();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  std::printf("| %-34s | %9.3f | %9.3f | %8.0f | %s\n", what, t.front(), t[t.size() / 2], peak_rss_mb(), note);
}

LoadedFmdNetwork untrained(int width) {
  LoadedFmdNetwork n;
  n.config.base_channels = width;
  torch::manual_seed(1);
  n.net = FmdUNet(n.config);
  n.net->eval();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights;
  int threads = 2, runs = 3, steps = 18, width = FmdNetworkConfig{}.base_channels;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--weights")) weights = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--steps")) steps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--width")) width = std::max(4, std::atoi(argv[i + 1]));
  }
  set_thread_count(threads);
  torch::set_num_threads(threads);

  PelvisPhantomOptions po;
  po.seed = 1;
  po.spacing_mm = {2.0, 2.0, 2.5};
  const Patient patient = make_pelvis_phantom(po);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const StructureRoles roles = StructureRoles::load_default();
  const Structure& ptv = roles.resolve(patient, "ptv");
  const PlanGeometry geometry = build_plan_geometry(patient, machine, default_two_arcs(4.0), ptv.name, 5.0, {});
  const FluenceGrid grid = fluence_grid_for_plan(geometry, machine, 5.0);
  const FmdCanvas canvas;

  LoadedFmdNetwork student = weights.empty() ? untrained(width)
                                             : load_fmd_network(weights, "student", kTrainingSetVersion, canvas);
  LoadedFmdNetwork teacher = weights.empty() ? untrained(width)
                                             : load_fmd_network(weights, "teacher", kTrainingSetVersion, canvas);
  std::printf("bench_generator: phantom seed 1, %zu arcs, %d control points, grid %d x %d, canvas %d x %d, "
              "%lld parameters, %s, %d threads\n\n",
              geometry.beams.size(), geometry.control_point_count(), grid.row_count(), grid.bixel_count,
              canvas.rows, canvas.bixels, static_cast<long long>(parameter_count(*student.net)),
              weights.empty() ? "untrained networks" : weights.c_str(), threads);
  std::printf("| %-34s | %9s | %9s | %8s | note\n", "part", "min s", "median s", "peak MB");
  std::printf("|%s|%s|%s|%s|---\n", std::string(36, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(10, '-').c_str());

  BevConditioning cond;
  row("BEV conditioning (2 arcs)", [&] {
    cond = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, machine.sad_mm});
  }, runs, "same function as the training export");

  const size_t plane = static_cast<size_t>(grid.size_per_control_point());
  std::vector<torch::Tensor> arcs;
  int first = 0;
  for (const Beam& b : geometry.beams) {
    std::vector<float> gantry;
    for (const auto& cp : b.control_points) gantry.push_back(static_cast<float>(cp.gantry_deg));
    const int n = static_cast<int>(b.control_points.size());
    arcs.push_back(fmd_condition_on_canvas(canvas, grid, cond.values.data() + first * cond.channels * plane,
                                           gantry.data(), n));
    first += n;
  }
  row("student, 1 step (2 arcs)", [&] {
    for (size_t a = 0; a < arcs.size(); ++a) fmd_sample_arc(student, FmdNetworkRole::kStudent, arcs[a], a, 1);
  }, runs, "target <= 0.3 s on 2 cores");
  const std::string teacher_label = "teacher, " + std::to_string(steps) + " steps (2 arcs)";
  row(teacher_label.c_str(), [&] {
    for (size_t a = 0; a < arcs.size(); ++a) fmd_sample_arc(teacher, FmdNetworkRole::kTeacher, arcs[a], a, steps);
  }, std::min(runs, 2), "2 N - 1 evaluations per arc");
  return 0;
}
