// Loading a clinical-size pelvis from DICOM (512x512 in-plane, 120 slices, 9 ROIs):
// `vmatplan inspect` against `plastimatch convert` (RTSTRUCT -> masks) on the same files,
// each as a whole process, wall time and peak memory.
//   bench_load_dicom [--runs N] [--threads T] [--keep DIR]
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_support.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/io/dicom_patient_writer.h"
#include "vmatplan/patient/pelvis_phantom.h"

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
  set_thread_count(threads);
  fs::path dir = keep.empty() ? fs::temp_directory_path() / "vmatplan_bench_load" : fs::path(keep);
  fs::remove_all(dir);
  fs::create_directories(dir / "ct");

  PelvisPhantomOptions opt;
  opt.seed = 2024;
  opt.spacing_mm = {420.0 / 512, 420.0 / 512, 1.5};
  opt.field_of_view_mm = {420.0, 420.0, 180.0};
  Patient p = make_pelvis_phantom(opt);
  write_dicom_patient(p, (dir / "ct").string());
  std::printf("pelvis phantom: %lld x %lld x %lld voxels, %zu ROIs, runs=%d, threads=%d\n\n",
              (long long)p.ct_hu.grid.size[0], (long long)p.ct_hu.grid.size[1],
              (long long)p.ct_hu.grid.size[2], p.structures.size(), runs, threads);

  const std::string ct = (dir / "ct").string();
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
