#include "test_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace vmatplan::test {
namespace fs = std::filesystem;

std::string data_dir() {
  const char* env = std::getenv("VMATPLAN_TEST_DATA");
  std::string d = (env && *env) ? env : VMATPLAN_DEFAULT_TEST_DATA;
  return fs::is_directory(d) ? fs::canonical(d).string() : "";
}

std::string data_file(const std::string& rel) {
  std::string d = data_dir();
  if (d.empty()) return "";
  std::string p = d + "/" + rel;
  return fs::exists(p) ? p : "";
}

namespace {
struct ScratchRoot {
  fs::path root;
  ScratchRoot() {
    root = fs::temp_directory_path() / ("vmatplan_tests_" + std::to_string(::getpid()));
    fs::create_directories(root);
  }
  ~ScratchRoot() {
    std::error_code ec;
    if (!std::getenv("VMATPLAN_KEEP_SCRATCH")) fs::remove_all(root, ec);
  }
};
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string scratch_dir(const std::string& name) {
  static ScratchRoot root;
  fs::path p = root.root / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

CommandResult run_shell(const std::string& command) {
  static int counter = 0;
  fs::path base = fs::temp_directory_path() /
                  ("vmatplan_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string full = "(" + command + ") >" + base.string() + ".out 2>" + base.string() + ".err";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  fs::remove(base.string() + ".out");
  fs::remove(base.string() + ".err");
  return r;
}

CommandResult run_cli(const std::string& args) {
  // vmatplan uses every core by default; tests run on one (CI machines are shared).
  const bool has_threads = args.find("--threads") != std::string::npos;
  return run_shell(std::string("'") + VMATPLAN_CLI_PATH + "' " + (has_threads ? "" : "--threads 1 ") + args);
}

bool have_program(const std::string& name) {
  return run_shell("command -v " + name).exit_code == 0;
}

CommandResult make_tiny_phantom(const std::string& dir, int seed, std::string* path) {
  const std::string p = dir + "/phantom" + std::to_string(seed);
  if (path) *path = p;
  return run_cli("phantom --seed " + std::to_string(seed) + " --spacing 4 4 5 --format nifti --out " + p);
}

const char* const kCoarsePlanFlags =
    " --arcs 330:30:cw:4 150:210:cw:4 --bixel 10 --dose-spacing 10 --max-iter 5"
    " --final-dose-spacing 10 --meterset-iter 5";

size_t count_occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace vmatplan::test
