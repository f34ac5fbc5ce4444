// End-to-end `vmatplan generate` on a default-resolution phantom: wall time per stage
// (from summary.json) and the process's peak memory, as a table and as JSON.
//
//   bench_generate [--threads N] [--final-dose-spacing MM] [--seed S] [--runs R]
//                  [--format dicom|nifti] [--extra "FLAGS"]
//
// The phantom is written as DICOM by default, as the README's sample is (`phantom --seed 1
// --out P`): "load" then reads a CT series + RTSTRUCT and "write" exports no CT. With
// --format nifti the patient is an image folder: "load" reads NIfTI and "write" includes
// exporting the CT and structures as DICOM beside the plan.
// With --runs R the command runs R times; the table is the run with the median process
// time, the peak memory the largest of all runs.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "bench_support.h"

using namespace vmatplan::bench;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  int threads = 1, seed = 7, runs = 1;
  std::string final_spacing = "3", extra, format = "dicom";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--final-dose-spacing") final_spacing = argv[i + 1];
    else if (a == "--seed") seed = std::atoi(argv[i + 1]);
    else if (a == "--extra") extra = argv[i + 1];
    else if (a == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--format") format = argv[i + 1];
  }
  if (format != "dicom" && format != "nifti") {
    std::fprintf(stderr, "bench_generate: --format must be dicom or nifti, not '%s'\n", format.c_str());
    return 2;
  }
  const std::string cli = VMATPLAN_CLI_PATH;
  const fs::path dir = fs::temp_directory_path() / ("bench_generate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string patient = (dir / "patient").string(), out = (dir / "plan").string();
  if (run_process(cli + " phantom --seed " + std::to_string(seed) + " --format " + format + " --out " + patient)
          .exit_code != 0) {
    std::fprintf(stderr, "bench_generate: phantom failed\n");
    return 1;
  }
  std::vector<std::pair<double, nlohmann::json>> results;  // process seconds, summary
  double peak_mb = 0;
  for (int r = 0; r < runs; ++r) {
    const std::string cmd = cli + " --threads " + std::to_string(threads) + " generate --patient " +
                            patient + " --final-dose-spacing " + final_spacing + " " + extra +
                            " --overwrite --out " + out;
    const ProcessRun run = run_process(cmd);
    if (run.exit_code != 0) {
      std::fprintf(stderr, "bench_generate: generate failed (%s)\n", cmd.c_str());
      return 1;
    }
    std::ifstream f(out + "/summary.json");
    results.emplace_back(run.wall_s, nlohmann::json::parse(f));
    peak_mb = std::max(peak_mb, run.peak_rss_mb);
  }
  std::sort(results.begin(), results.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const double process_s = results[results.size() / 2].first;
  const nlohmann::json& s = results[results.size() / 2].second;
  ProcessRun run;
  run.wall_s = process_s;
  run.peak_rss_mb = peak_mb;

  std::printf("vmatplan generate, phantom seed %d (default resolution, %s), threads %d, final dose %s mm, "
              "median of %d runs (process %.2f .. %.2f s)\n",
              seed, format.c_str(), threads, final_spacing.c_str(), runs, results.front().first, results.back().first);
  std::printf("| %-12s | %9s | %6s |\n|%s|%s|%s|\n", "stage", "seconds", "share",
              std::string(14, '-').c_str(), std::string(11, '-').c_str(), std::string(8, '-').c_str());
  const double total = s["total_seconds"].get<double>();
  for (const auto& st : s["stages"])
    std::printf("| %-12s | %9.2f | %5.1f%% |\n", st["stage"].get<std::string>().c_str(),
                st["seconds"].get<double>(), 100.0 * st["seconds"].get<double>() / total);
  std::printf("| %-12s | %9.2f |        |\n", "pipeline", total);
  std::printf("| %-12s | %9.2f |        |\n", "process", run.wall_s);
  std::printf("peak memory %.0f MB; goals %d passed / %d failed; %.1f MU per fraction; beam-on %.0f s\n",
              run.peak_rss_mb, s["goals_passed"].get<int>(), s["goals_failed"].get<int>(),
              s["plan"]["mu_per_fraction"].get<double>(), s["plan"]["delivery_time_s"].get<double>());
  nlohmann::json j = {{"stages", s["stages"]}, {"total_seconds", total}, {"process_seconds", run.wall_s},
                      {"peak_rss_mb", run.peak_rss_mb}, {"threads", threads}, {"runs", runs}, {"format", format},
                      {"final_dose_spacing_mm", std::atof(final_spacing.c_str())}};
  std::printf("%s\n", j.dump().c_str());
  fs::remove_all(dir);
  return 0;
}
