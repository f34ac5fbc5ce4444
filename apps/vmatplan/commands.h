#pragma once
// Each subcommand is one file pair cmd_<name>.cpp: an options struct with defaults, a
// register_<name>() that binds flags, and a run that calls the library. main.cpp wires
// them, sets up logging and maps errors to exit codes.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmatplan {
struct GenerateOptions;
}

namespace vmatplan::cli {

// Global options, parsed before any subcommand runs.
struct GlobalOptions {
  bool verbose = false;
  std::string log_level = "info";
  int threads = 0;  // 0 = all cores (tests, CI and scripts pass --threads 1)
};

// A registered subcommand: run() is called after parsing when it was chosen; it returns
// the exit code (0) or throws vmatplan::Error.
using RunFn = std::function<int()>;
struct Command {
  CLI::App* app = nullptr;
  RunFn run;
};

Command register_inspect(CLI::App& app, const GlobalOptions& global);
Command register_phantom(CLI::App& app, const GlobalOptions& global);
Command register_water(CLI::App& app, const GlobalOptions& global);
Command register_check(CLI::App& app, const GlobalOptions& global);
Command register_sequence(CLI::App& app, const GlobalOptions& global);
Command register_export(CLI::App& app, const GlobalOptions& global);
Command register_dose(CLI::App& app, const GlobalOptions& global);
Command register_evaluate(CLI::App& app, const GlobalOptions& global);
Command register_compare(CLI::App& app, const GlobalOptions& global);
Command register_regression_report(CLI::App& app, const GlobalOptions& global);
Command register_optimize(CLI::App& app, const GlobalOptions& global);
Command register_generate(CLI::App& app, const GlobalOptions& global);
// The planning flags `generate` and `batch` share (protocol, machine, arcs, stages,
// resolutions, iterations, seed), bound to `plan`. Defined in cmd_generate.cpp.
void add_plan_options(CLI::App* sub, GenerateOptions& plan, const std::string& protocol_help);
Command register_batch(CLI::App& app, const GlobalOptions& global);
// `train fmd-teacher|fmd-student` (cmd_train.cpp); its run dispatches between the two.
Command register_train(CLI::App& app, const GlobalOptions& global);
// `train l2plan` under the `train` parent (cmd_train_l2plan.cpp).
Command add_train_l2plan_command(CLI::App& train, const GlobalOptions& global);

}  // namespace vmatplan::cli
