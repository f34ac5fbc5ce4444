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
