#pragma once
// Helpers shared by the tests: public test data, scratch folders, running the CLI.
#include <cstddef>
#include <string>

namespace vmatplan::test {

inline constexpr double kPi = 3.14159265358979323846;

// How many times `what` occurs in s (overlapping matches counted).
size_t count_occurrences(const std::string& s, const std::string& what);

// $VMATPLAN_TEST_DATA, else ../shared/data beside the checkout; "" when absent.
std::string data_dir();
// data_dir() + "/" + rel when it exists, else "" (the caller skips with a message).
std::string data_file(const std::string& rel);

// A fresh empty folder under the system temp dir, removed at exit of the test process.
std::string scratch_dir(const std::string& name);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `vmatplan ARGS` (args are passed to the shell as written).
CommandResult run_cli(const std::string& args);
// Runs any shell command.
CommandResult run_shell(const std::string& command);
bool have_program(const std::string& name);

// `vmatplan phantom --seed SEED --spacing 4 4 5 --format nifti --out DIR/phantomSEED`: a
// tiny synthetic patient for end-to-end tests. Sets *path to the patient folder.
CommandResult make_tiny_phantom(const std::string& dir, int seed, std::string* path);
// generate/batch flags that plan a tiny phantom in seconds: two short arcs, 10 mm bixels
// and dose grids, few iterations.
extern const char* const kCoarsePlanFlags;

}  // namespace vmatplan::test

// Catch2 v2 has no SKIP: warn and leave the test case.
#ifdef CATCH_CONFIG_PREFIX_ALL
#define VMATPLAN_TEST_WARN CATCH_WARN
#else
#define VMATPLAN_TEST_WARN WARN
#endif
#define VMATPLAN_SKIP_IF_EMPTY(path, what)                                           \
  do {                                                                               \
    if ((path).empty()) {                                                            \
      VMATPLAN_TEST_WARN("skipped: " << what << " not found (set VMATPLAN_TEST_DATA)"); \
      return;                                                                        \
    }                                                                                \
  } while (0)
