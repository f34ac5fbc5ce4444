// Loading a clinical-size pelvis from DICOM (512x512 in-plane, 120 slices, 9 ROIs):
// `vmatplan inspect` against `plastimatch convert` (RTSTRUCT -> masks) on the same files,
// each as a whole process, wall time and peak memory.
//   bench_load_dicom [--runs N] [--threads T] [--keep DIR]
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_support.h"

using namespace vmatplan;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  int runs = 5, threads = 2;
  std::string keep;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a];
    if (k == "--runs") runs = std::atoi(argv[a + 1]);
    if (k == "--threads") threads = std::atoi(argv[a + 1]);
    if (k == "--keep") keep = argv[a + 1];
  }
  fs::path dir = keep.empty() ? fs::temp_directory_path() / "vmatplan_bench_load" : fs::path(keep);
  fs::remove_all(dir);
  fs::create_directories(dir / "ct");

  // The phantom is made by a child process: a forked child inherits the parent's peak
  // memory figure, so this process stays small.
  const std::string ct = (dir / "ct").string();
  const std::string make = std::string(VMATPLAN_CLI_PATH) +
                           " --threads 2 phantom --seed 2024 --overwrite --spacing " +
                           std::to_string(420.0 / 512) + "," + std::to_string(420.0 / 512) +
                           ",1.5 --fov 420,420,180 --out " + ct;
  if (bench::run_process(make).exit_code != 0) {
    std::fprintf(stderr, "bench_load_dicom: cannot make the phantom: %s\n", make.c_str());
    return 1;
  }
  std::printf("pelvis phantom: 512 x 512 x 120 voxels (0.82 x 0.82 x 1.5 mm), 9 ROIs, "
              "runs=%d, threads=%d\n\n", runs, threads);
  bench::print_header();
  bench::print_row("process start: vmatplan --version",
                   bench::repeat(std::string(VMATPLAN_CLI_PATH) + " --version", runs));
  bench::print_row("vmatplan inspect (CT + RTSTRUCT -> masks)",
                   bench::repeat(std::string(VMATPLAN_CLI_PATH) + " --threads " +
                                     std::to_string(threads) + " inspect --patient " + ct,
                                 runs));
  if (std::system("command -v plastimatch >/dev/null 2>&1") == 0) {
    bench::print_row("plastimatch convert (CT + RTSTRUCT -> masks)",
                     bench::repeat("plastimatch convert --input " + ct + " --output-prefix " +
                                       (dir / "pm").string() + " --prefix-format nrrd",
                                   runs));
  } else {
    std::printf("| plastimatch not installed: no comparison\n");
  }
  if (keep.empty()) fs::remove_all(dir);
  return 0;
}
