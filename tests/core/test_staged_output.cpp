#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"

using namespace vmatplan;
namespace fs = std::filesystem;

TEST_CASE("a committed stage appears under its final name", "[core][staged]") {
  auto dir = test::scratch_dir("staged_commit");
  std::string final_path = dir + "/out";
  {
    StagedOutput out(final_path);
    std::ofstream(out.path() + "/a.txt") << "x";
    CHECK_FALSE(fs::exists(final_path));
    out.commit();
  }
  CHECK(fs::exists(final_path + "/a.txt"));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
}

TEST_CASE("an uncommitted stage leaves nothing behind", "[core][staged]") {
  auto dir = test::scratch_dir("staged_abort");
  try {
    StagedOutput out(dir + "/out");
    std::ofstream(out.path() + "/half.txt") << "x";
    throw std::runtime_error("failure half-way");
  } catch (const std::runtime_error&) {
  }
  CHECK(fs::is_empty(dir));
}

TEST_CASE("a file stage replaces the old file only on commit", "[core][staged]") {
  auto dir = test::scratch_dir("staged_file");
  std::string f = dir + "/plan.json";
  std::ofstream(f) << "old";
  {
    StagedOutput out(f, StagedOutput::Kind::kFile);
    std::ofstream(out.path()) << "new";
  }
  std::ifstream in(f);
  std::string s;
  in >> s;
  CHECK(s == "old");
  CHECK_THROWS_AS(StagedOutput(f, StagedOutput::Kind::kFile, false), InputError);
}

TEST_CASE("stale stages of a killed writer are removed, others kept", "[core][staged]") {
  auto dir = test::scratch_dir("staged_stale");
  fs::create_directories(dir + "/.out.partial-123/sub");
  std::ofstream(dir + "/.out.partial-77") << "x";
  fs::create_directories(dir + "/.other.partial-5");
  fs::create_directories(dir + "/out");
  remove_stale_stages(dir + "/out");
  CHECK_FALSE(fs::exists(dir + "/.out.partial-123"));
  CHECK_FALSE(fs::exists(dir + "/.out.partial-77"));
  CHECK(fs::exists(dir + "/.other.partial-5"));
  CHECK(fs::exists(dir + "/out"));
  remove_stale_stages(dir + "/missing_parent/x");  // no such folder: nothing to do
}

TEST_CASE("without overwrite, a commit never replaces an output that appeared meanwhile",
          "[core][staged]") {
  auto dir = test::scratch_dir("staged_noreplace");
  for (auto kind : {StagedOutput::Kind::kDirectory, StagedOutput::Kind::kFile}) {
    const std::string fin = dir + (kind == StagedOutput::Kind::kFile ? "/plan.json" : "/out");
    {
      StagedOutput first(fin, kind, false);
      StagedOutput second(fin, kind, false);  // both started before either finished
      std::ofstream(kind == StagedOutput::Kind::kFile ? first.path() : first.path() + "/a") << "first";
      first.commit();
      CHECK_THROWS_WITH(second.commit(), Catch::Contains("appeared while this run was writing"));
    }
    const std::string kept = kind == StagedOutput::Kind::kFile ? fin : fin + "/a";
    std::ifstream in(kept);
    std::string s;
    in >> s;
    CHECK(s == "first");
  }
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 2);  // no stages left
}

TEST_CASE("with overwrite, a commit replaces the old output", "[core][staged]") {
  auto dir = test::scratch_dir("staged_replace");
  fs::create_directories(dir + "/out/old");
  {
    StagedOutput out(dir + "/out", StagedOutput::Kind::kDirectory, true);
    std::ofstream(out.path() + "/new") << "x";
    out.commit();
  }
  CHECK(fs::exists(dir + "/out/new"));
  CHECK_FALSE(fs::exists(dir + "/out/old"));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
}

TEST_CASE("SIGINT, SIGTERM and SIGHUP remove the stage and exit 128 + signal", "[core][staged][signal]") {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    auto dir = test::scratch_dir("staged_signal_" + std::to_string(sig));
    const std::string ready = dir + "/ready";
    std::fflush(nullptr);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The handler is what is tested, so the child starts from the default dispositions:
      // a runner may have left these signals ignored (bash ignores SIGINT in `cmd &`,
      // nohup SIGHUP), and install_stage_cleanup_on_signals keeps an ignored signal ignored.
      for (int s : {SIGINT, SIGTERM, SIGHUP}) signal(s, SIG_DFL);
      install_stage_cleanup_on_signals();
      StagedOutput out(dir + "/cohort");
      for (int p = 0; p < 30; ++p) {  // nested folders and files, as `phantom --cohort` makes
        fs::create_directories(out.path() + "/patient" + std::to_string(p) + "/masks");
        std::ofstream(out.path() + "/patient" + std::to_string(p) + "/masks/m.nii.gz") << "x";
      }
      StagedOutput file(dir + "/plan.json", StagedOutput::Kind::kFile);
      std::ofstream(ready) << "1";
      for (;;) pause();
    }
    for (int i = 0; i < 500 && !fs::exists(ready); ++i) usleep(10000);
    REQUIRE(fs::exists(ready));
    kill(pid, sig);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + sig);
    fs::remove(ready);
    CHECK(fs::is_empty(dir));  // no .cohort.partial-* or .plan.json.partial-* left
  }
}

TEST_CASE("an output may not be, hold or lie inside an input", "[core][staged]") {
  auto dir = test::scratch_dir("staged_separate");
  fs::create_directories(dir + "/patient/masks");
  std::ofstream(dir + "/dose.nii.gz") << "x";
  auto err = [&](const std::string& out) {
    try {
      check_output_separate("--out", out, {{"--patient", dir + "/patient"}, {"--dose", dir + "/dose.nii.gz"}, {"--reference", ""}});
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(err(dir + "/patient"), Catch::Contains("same path as --patient"));
  CHECK_THAT(err(dir + "/patient/"), Catch::Contains("same path as --patient"));
  CHECK_THAT(err(dir + "/patient/../patient"), Catch::Contains("same path as --patient"));
  CHECK_THAT(err(dir), Catch::Contains("contains --patient"));
  CHECK_THAT(err(dir + "/patient/report"), Catch::Contains("lies inside --patient"));
  CHECK_THAT(err(dir + "/dose.nii.gz"), Catch::Contains("same path as --dose"));
  CHECK(err(dir + "/report").empty());
  CHECK(err(dir + "/patient2").empty());  // a sibling whose name starts the same
}

TEST_CASE("writability is checked up front without writing", "[core][staged]") {
  auto dir = test::scratch_dir("staged_writable");
  std::ofstream(dir + "/f") << "x";
  CHECK_NOTHROW(check_output_writable(dir + "/new/deeper/out.nii.gz", false, true));
  CHECK_THROWS_WITH(check_output_writable(dir + "/f", false, true), Catch::Contains("already exists"));
  CHECK_NOTHROW(check_output_writable(dir + "/f", true, true));
  CHECK_THROWS_WITH(check_output_writable(dir, true, true), Catch::Contains("is a folder"));
  CHECK_THROWS_WITH(check_output_writable(dir + "/f/x", true, true), Catch::Contains("is not a folder"));
  CHECK_THROWS_AS(check_output_writable("/proc/vmatplan_x", true, true), InputError);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
}
