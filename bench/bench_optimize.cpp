// Classical optimiser benchmark: synthetic pelvis patients (phantom seeds 1..N, default
// 1 x 1 x 2.5 mm CT) with the 60 Gy / 20 fx protocol at the default resolution (two full
// arcs at 4 deg, 5 mm bixels, 5 mm dose grid), then the matRad BOXPHANTOM with its own
// protocol (configs/protocols/boxphantom_60gy.json). Each patient runs in a child process,
// so peak memory (wait4 rusage) is per patient. Prints the clinical goals per patient,
// iterations and times, and a JSON line per patient. Target: goals met in >= 9 of 10 and
// under 60 s per patient on 2 cores.
//
//   bench_optimize [threads=2] [patients=10] [boxphantom.mat]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_support.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;
using nlohmann::json;

namespace {

// Runs in the child: make or load the patient, plan, write the summary to out_path.
void plan_one(int threads, const std::string& patient_spec, const std::string& protocol_name,
              const std::string& out_path) {
  set_thread_count(threads);
  set_dose_engine_threads(threads);
  auto t0 = std::chrono::steady_clock::now();
  Patient patient;
  if (patient_spec.rfind("seed:", 0) == 0) {
    PelvisPhantomOptions po;
    po.seed = std::stoull(patient_spec.substr(5));
    patient = make_pelvis_phantom(po);
  } else {
    patient = load_patient(patient_spec);
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ClassicalPlan p = make_classical_plan(patient, load_protocol(protocol_name),
                                        Machine::load_named("generic_6mv_mlc120"),
                                        StructureRoles::load_default(), ClassicalPlanOptions{});
  json out = {{"patient", patient_spec},
              {"load_s", load_s},
              {"setup_s", p.engine_setup_seconds},
              {"optimize_s", p.optimization.seconds},
              {"plan_s", p.total_seconds},
              {"iterations", p.optimization.iterations},
              {"evaluations", p.optimization.evaluations},
              {"stop", p.optimization.stop_reason},
              {"control_points", p.fluence.control_point_count},
              {"bixels_per_cp", p.fluence.grid.size_per_control_point()},
              {"dose_voxels", p.dose_voxels},
              {"normalisation_scale", p.normalisation_scale},
              {"goals", goals_table_json(p.evaluation)}};
  std::ofstream(out_path) << out.dump();
}

struct ChildRun {
  json result;
  double wall_s = 0, peak_mb = 0;
  double cpu_s = 0;  // user + system: on a shared machine, cpu_s / threads is the idle wall time
  bool ok = false;
};

ChildRun run_child(int threads, const std::string& patient, const std::string& protocol) {
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("bench_optimize_" + std::to_string(getpid()) + ".json")).string();
  std::filesystem::remove(out);
  std::fflush(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int code = 0;
    try {
      plan_one(threads, patient, protocol, out);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", patient.c_str(), e.what());
      code = 1;
    }
    std::fflush(nullptr);
    _exit(code);
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  ChildRun r;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_mb = usage.ru_maxrss / 1024.0;
  r.cpu_s = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
            1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (r.ok) {
    std::ifstream in(out);
    r.result = json::parse(in);
  }
  std::filesystem::remove(out);
  return r;
}

const json* find_goal(const json& goals, const std::string& role, const std::string& metric) {
  for (const json& g : goals)
    if (g["role"] == role && g["metric"] == metric) return &g;
  return nullptr;
}

std::string cell(const json& goals, const std::string& role, const std::string& metric) {
  const json* g = find_goal(goals, role, metric);
  if (!g || g->at("status") == "not_evaluated") return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%s", g->at("value").get<double>(), g->at("pass").get<bool>() ? "" : "!");
  return buf;
}

// The criterion: PTV coverage (D95%) and every rectum and bladder goal pass.
bool required_goals_pass(const json& goals) {
  bool ok = false;
  for (const json& g : goals) {
    const std::string role = g["role"];
    if (role == "ptv" && g["metric"] == "D95%") ok = g["pass"].get<bool>();
  }
  for (const json& g : goals) {
    const std::string role = g["role"];
    if ((role == "rectum" || role == "bladder") && !g["pass"].get<bool>()) return false;
  }
  return ok;
}

int passed_count(const json& goals) {
  int n = 0;
  for (const json& g : goals) n += g["pass"].get<bool>();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int patients = argc > 2 ? std::atoi(argv[2]) : 10;
  std::string box = argc > 3 ? argv[3] : VMATPLAN_SOURCE_DIR "/../shared/data/matrad/BOXPHANTOM.mat";

  std::printf("classical optimiser, prostate_60gy_20fx, 2 full arcs 4 deg, 5 mm bixels, 5 mm dose "
              "grid, %d threads (value! = goal failed)\n\n", threads);
  const char* cols[] = {"seed", "iters", "stop", "setup s", "opt s", "wall s", "cpu s", "peak MB",
                        "PTV D95", "PTV D2", "R V40.8", "R V48.6", "R V52.8", "R V57", "R V60",
                        "B V40.8", "B V48.6", "B V60", "req", "all"};
  for (const char* c : cols) std::printf("| %-7s ", c);
  std::printf("|\n");
  for (size_t i = 0; i < sizeof cols / sizeof *cols; ++i) std::printf("|---------");
  std::printf("|\n");
  int met = 0, ran = 0;
  double worst_s = 0, worst_cpu_s = 0;
  json lines = json::array();
  for (int seed = 1; seed <= patients; ++seed) {
    ChildRun r = run_child(threads, "seed:" + std::to_string(seed), "prostate_60gy_20fx");
    if (!r.ok) {
      std::printf("| %-7d | FAILED (see stderr)\n", seed);
      continue;
    }
    ++ran;
    const json& res = r.result;
    const json& g = res["goals"];
    const bool req = required_goals_pass(g);
    met += req;
    worst_s = std::max(worst_s, r.wall_s);
    worst_cpu_s = std::max(worst_cpu_s, r.cpu_s);
    std::printf("| %-7d | %-7d | %-7.7s | %-7.1f | %-7.1f | %-7.1f | %-7.1f | %-7.0f ", seed,
                res["iterations"].get<int>(), res["stop"].get<std::string>().c_str(),
                res["setup_s"].get<double>(), res["optimize_s"].get<double>(), r.wall_s, r.cpu_s,
                r.peak_mb);
    for (auto [role, metric] : {std::pair{"ptv", "D95%"}, {"ptv", "D2%"}, {"rectum", "V40.8Gy"},
                                {"rectum", "V48.6Gy"}, {"rectum", "V52.8Gy"}, {"rectum", "V57Gy"},
                                {"rectum", "V60Gy"}, {"bladder", "V40.8Gy"}, {"bladder", "V48.6Gy"},
                                {"bladder", "V60Gy"}})
      std::printf("| %-7s ", cell(g, role, metric).c_str());
    std::printf("| %-7s | %2d/%-4zu |\n", req ? "yes" : "NO", passed_count(g), g.size());
    std::fflush(stdout);
    json line = res;
    line["wall_s"] = r.wall_s;
    line["cpu_s"] = r.cpu_s;
    line["peak_rss_mb"] = r.peak_mb;
    lines.push_back(line);
  }
  std::printf("\nPTV D95 + rectum + bladder goals met: %d / %d patients; slowest %.1f s wall "
              "(incl. phantom generation and process start), %.1f s CPU / %d threads\n",
              met, ran, worst_s, worst_cpu_s / threads, threads);

  if (std::filesystem::exists(box)) {
    ChildRun r = run_child(threads, box, "boxphantom_60gy");
    if (r.ok) {
      const json& res = r.result;
      std::printf("\nBOXPHANTOM (boxphantom_60gy): %d iterations (%s), setup %.1f s, optimise %.1f s, "
                  "wall %.1f s, cpu %.1f s, peak %.0f MB, normalisation x%.3f\n",
                  res["iterations"].get<int>(), res["stop"].get<std::string>().c_str(),
                  res["setup_s"].get<double>(), res["optimize_s"].get<double>(), r.wall_s,
                  r.cpu_s, r.peak_mb, res["normalisation_scale"].get<double>());
      for (const json& g : res["goals"])
        std::printf("  %-12s %-8s %s %6.2f  value %7.2f %-3s %s\n",
                    g["role"].get<std::string>().c_str(), g["metric"].get<std::string>().c_str(),
                    g["comparison"].get<std::string>().c_str(), g["threshold"].get<double>(),
                    g["value"].get<double>(), g["unit"].get<std::string>().c_str(),
                    g["status"].get<std::string>().c_str());
      json line = res;
      line["wall_s"] = r.wall_s;
      line["cpu_s"] = r.cpu_s;
      line["peak_rss_mb"] = r.peak_mb;
      lines.push_back(line);
    } else {
      std::printf("\nBOXPHANTOM: FAILED (see stderr)\n");
    }
  } else {
    std::printf("\nBOXPHANTOM: %s not found, skipped\n", box.c_str());
  }
  std::printf("\nJSON:\n");
  for (const json& l : lines) std::printf("%s\n", l.dump().c_str());
  return 0;
}
