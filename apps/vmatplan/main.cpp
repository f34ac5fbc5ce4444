// vmatplan: deliverable VMAT plans for prostate cancer in seconds.
// This file only wires subcommands, sets up logging and maps errors to exit codes:
// 0 success, 1 input or processing error, 2 usage error.
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/logging.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/core/version.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/pipeline/l2plan_refiners.h"

int main(int argc, char** argv) {
  using namespace vmatplan;
  CLI::App app{"vmatplan: deliverable VMAT plans for prostate cancer in seconds", "vmatplan"};
  app.set_version_flag("--version", std::string("vmatplan ") + kVersion);
  app.require_subcommand(1);

  cli::GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbose, "Same as --log-level debug");
  app.add_option("--log-level", global.log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--threads", global.threads,
                 "Worker threads (default 0 = all cores; batch --jobs N shares them out); tests and CI use 1")
      ->capture_default_str();

  register_learned_refiners({});  // before the flags: --refiner's help lists them
  std::map<CLI::App*, cli::RunFn> runs;
  for (auto cmd : {cli::register_inspect(app, global), cli::register_phantom(app, global),
                    cli::register_water(app, global), cli::register_dose(app, global),
                    cli::register_evaluate(app, global),
                    cli::register_compare(app, global), cli::register_regression_report(app, global),
                    cli::register_check(app, global),
                    cli::register_sequence(app, global), cli::register_export(app, global),
                    cli::register_optimize(app, global),
                    cli::register_generate(app, global), cli::register_batch(app, global),
                    cli::register_train(app, global)})
    runs[cmd.app] = cmd.run;
  // `train` holds the FMD commands (cmd_train.cpp) and L2Plan's (cmd_train_l2plan.cpp).
  {
    CLI::App* train = app.get_subcommand("train");
    const cli::Command l2plan = cli::add_train_l2plan_command(*train, global);
    runs[l2plan.app] = l2plan.run;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "vmatplan: " << e.what() << " (see --help)\n";
    return 2;
  }

  // Ctrl-C, kill and a closed terminal remove unfinished output and exit 130 / 143 / 129.
  install_stage_cleanup_on_signals();
  try {
    setup_logging(global.verbose ? "debug" : global.log_level);
    set_dose_engine_threads(global.threads);  // vmatplan's worker threads and LibTorch's
    for (auto* sub : app.get_subcommands()) {
      // The deepest chosen subcommand with its own run (train l2plan), else the nearest.
      while (!sub->get_subcommands().empty() &&
             (!runs.count(sub) || runs.count(sub->get_subcommands().front())))
        sub = sub->get_subcommands().front();
      return runs.at(sub)();
    }
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "vmatplan: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vmatplan: error: " << e.what() << "\n";
    return 1;
  }
}
