// Bad input through the CLI: one clear line naming the file, exit code 1, nothing written.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "test_support.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

int count_lines(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

// inspect must fail with exit 1, one error line that names `mention`, and no output folder.
void expect_clean_failure(const std::string& patient, const std::string& mention,
                          const std::string& expect_text = "") {
  std::string out = test::scratch_dir("bad_input_out") + "/masks";
  auto r = test::run_cli("inspect --patient '" + patient + "' --export-masks '" + out + "'");
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find(mention) != std::string::npos);
  if (!expect_text.empty()) CHECK(r.err.find(expect_text) != std::string::npos);
  CHECK(r.out.empty());
  CHECK_FALSE(fs::exists(out));
  CHECK(fs::is_empty(fs::path(out).parent_path()));
}

void write_random_bytes(const std::string& path, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::ofstream f(path, std::ios::binary);
  for (size_t i = 0; i < n; ++i) f.put(static_cast<char>(rng() & 0xff));
}

}  // namespace

TEST_CASE("missing path and empty folder", "[cli][bad_input]") {
  std::string dir = test::scratch_dir("bad_missing");
  expect_clean_failure(dir + "/nope", dir + "/nope", "does not exist");
  std::string empty = test::scratch_dir("bad_empty");
  expect_clean_failure(empty, empty);
}

TEST_CASE("folder of non-DICOM files", "[cli][bad_input]") {
  std::string dir = test::scratch_dir("bad_nondicom");
  std::ofstream(dir + "/notes.txt") << "not a CT";
  write_random_bytes(dir + "/blob.dcm", 4096, 3);
  expect_clean_failure(dir, dir);
}

TEST_CASE("truncated DICOM slice", "[cli][bad_input]") {
  std::string phantom = test::scratch_dir("bad_truncated_src") + "/p";
  REQUIRE(test::run_cli("phantom --seed 3 --spacing 5,5,6 --out '" + phantom + "'").exit_code == 0);
  std::string dir = test::scratch_dir("bad_truncated");
  std::string victim;
  for (const auto& e : fs::directory_iterator(phantom)) {
    fs::copy(e.path(), dir + "/" + e.path().filename().string());
    if (victim.empty() && e.path().filename().string().rfind("CT", 0) == 0)
      victim = dir + "/" + e.path().filename().string();
  }
  REQUIRE_FALSE(victim.empty());
  fs::resize_file(victim, fs::file_size(victim) / 2);
  expect_clean_failure(dir, dir);
}

TEST_CASE("RTSTRUCT without its CT series", "[cli][bad_input]") {
  std::string phantom = test::scratch_dir("bad_rs_src") + "/p";
  REQUIRE(test::run_cli("phantom --seed 4 --spacing 5,5,6 --out '" + phantom + "'").exit_code == 0);
  std::string dir = test::scratch_dir("bad_rs_only");
  fs::copy(phantom + "/RS.dcm", dir + "/RS.dcm");
  expect_clean_failure(dir, dir, "RTSTRUCT");
}

TEST_CASE("two CT series in one folder without --series", "[cli][bad_input]") {
  std::string root = test::scratch_dir("bad_mixed");
  REQUIRE(test::run_cli("phantom --seed 5 --spacing 5,5,6 --out '" + root + "/a'").exit_code == 0);
  REQUIRE(test::run_cli("phantom --seed 6 --spacing 5,5,6 --out '" + root + "/b'").exit_code == 0);
  expect_clean_failure(root, root, "--series");
}

TEST_CASE("unreadable and non-matRad .mat files", "[cli][bad_input]") {
  std::string dir = test::scratch_dir("bad_mat");
  write_random_bytes(dir + "/random.mat", 10000, 9);
  expect_clean_failure(dir + "/random.mat", dir + "/random.mat");
  std::string box = test::data_file("matrad/BOXPHANTOM.mat");
  if (!box.empty()) {
    fs::copy(box, dir + "/truncated.mat");
    fs::resize_file(dir + "/truncated.mat", fs::file_size(box) / 3);
    expect_clean_failure(dir + "/truncated.mat", dir + "/truncated.mat");
  }
}

TEST_CASE("usage errors exit with 2, help and version with 0", "[cli]") {
  CHECK(test::run_cli("--version").exit_code == 0);
  CHECK(test::run_cli("--version").out.find("vmatplan") != std::string::npos);
  CHECK(test::run_cli("--help").exit_code == 0);
  CHECK(test::run_cli("inspect --help").exit_code == 0);
  CHECK(test::run_cli("phantom --help").exit_code == 0);
  CHECK(test::run_cli("").exit_code == 2);
  CHECK(test::run_cli("no-such-command").exit_code == 2);
  CHECK(test::run_cli("inspect --no-such-flag").exit_code == 2);
  CHECK(test::run_cli("--log-level loud phantom --seed 1 --out /tmp/x").exit_code == 2);
  CHECK(test::run_cli("phantom --seed 1 --format jpeg --out /tmp/x").exit_code == 2);
}

TEST_CASE("a missing slice is refused, or resampled on request", "[cli][bad_input]") {
  std::string dir = test::scratch_dir("missing_slice") + "/p";
  REQUIRE(test::run_cli("phantom --seed 8 --spacing 5,5,6 --out '" + dir + "'").exit_code == 0);
  fs::remove(dir + "/CT_0010.dcm");
  expect_clean_failure(dir, dir, "missing");
  auto r = test::run_cli("inspect --resample-slices --json --patient '" + dir + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("resampl") != std::string::npos);  // reported among the warnings
}

TEST_CASE("batch: a cohort where every patient fails exits 1, with the summary written",
          "[cli][bad_input][batch]") {
  const std::string dir = test::scratch_dir("batch_all_fail");
  std::ofstream(dir + "/cohort.csv") << "id,path\na," << dir << "/missing_a\nb," << dir << "/missing_b\n";
  auto r = test::run_cli("batch --cohort '" + dir + "/cohort.csv' --out '" + dir + "/out'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("2 of 2 patients failed") != std::string::npos);
  CHECK(fs::exists(dir + "/out/cohort_summary.csv"));
  CHECK(fs::exists(dir + "/out/a.failed.json"));
  // A batch refused as a whole (a bad manifest) leaves no folder behind.
  std::ofstream(dir + "/bad.csv") << "id,path\n\"x\ny\",p\n";
  auto bad = test::run_cli("batch --cohort '" + dir + "/bad.csv' --out '" + dir + "/out2'");
  CHECK(bad.exit_code == 1);
  CHECK_FALSE(fs::exists(dir + "/out2"));
}

TEST_CASE("an interrupted phantom --cohort leaves no hidden stage and exits 143",
          "[cli][bad_input][signal]") {
  const std::string dir = test::scratch_dir("cohort_sigterm");
  // Wait until the stage holds a patient, then SIGTERM (a script's background job ignores
  // SIGINT, and vmatplan keeps a signal ignored at start ignored).
  const std::string script =
      "'" + std::string(VMATPLAN_CLI_PATH) + "' phantom --seed 1 --cohort 60 --spacing 6,6,8 --out '" + dir +
      "/c' >/dev/null 2>&1 & p=$!; for i in $(seq 600); do n=$(ls '" + dir +
      "'/.c.partial-*/ 2>/dev/null | wc -l); [ \"$n\" -ge 2 ] && break; sleep 0.05; done; kill -TERM $p; wait $p; echo $?";
  auto r = test::run_shell(script);
  INFO(r.out << r.err);
  CHECK(r.out == "143\n");
  CHECK(fs::is_empty(dir));
}
