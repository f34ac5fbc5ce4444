// vmatplan batch: generate over a cohort manifest; one folder per patient plus
// cohort_summary.csv/.json. A failing patient is recorded and the others go on.
// Exit code 0 when every patient of the cohort is done; 1 when any patient failed (the
// summary is still written, and the last stderr line says how many failed).
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/pipeline/batch.h"

namespace vmatplan::cli {
namespace {

struct BatchCmdOptions {
  BatchOptions batch;
  std::string shard = "1/1";
  bool json = false;
};

int run_batch_cmd(BatchCmdOptions opt, const GlobalOptions& global) {
  opt.batch.shard = parse_shard(opt.shard);
  opt.batch.plan.threads = global.threads;
  const BatchResult r = run_batch(opt.batch, [](const std::string& line) {
    std::fprintf(stderr, "batch: %s\n", line.c_str());
  });
  const int failed = r.summary["failed"].get<int>();
  auto status = [&] {
    if (failed == 0) return 0;
    std::fflush(stdout);
    std::fprintf(stderr, "vmatplan: error: %s: %d of %zu patients failed (see %s/cohort_summary.csv)\n",
                 opt.batch.cohort.c_str(), failed, r.summary["patients"].size(), opt.batch.out.c_str());
    return 1;
  };
  if (opt.json) {
    std::cout << r.summary.dump(2) << "\n";
    return status();
  }
  std::printf("planned %d (%d failed), skipped %d finished; cohort: %d done, %d failed, %d pending\n",
              r.planned, r.failed, r.skipped, r.summary["done"].get<int>(),
              r.summary["failed"].get<int>(), r.summary["pending"].get<int>());
  std::printf("wrote %s/cohort_summary.csv and .json%s\n", opt.batch.out.c_str(),
              opt.batch.plan.training_export ? " and training_manifest.json" : "");
  return status();
}

}  // namespace

Command register_batch(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<BatchCmdOptions>();
  GenerateOptions& p = opt->batch.plan;
  CLI::App* sub = app.add_subcommand("batch", "Generate plans for a cohort (CSV or JSON manifest)");
  sub->add_option("--cohort", opt->batch.cohort, "Manifest: CSV (id,path[,protocol]) or JSON")->required();
  sub->add_option("--out", opt->batch.out, "Output folder (one folder per patient)")->required();
  sub->add_option("--jobs", opt->batch.jobs, "Patients planned at once (one process each)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_option("--shard", opt->shard, "i/N: plan patients i, i+N, i+2N... (1-based)")->capture_default_str();
  sub->add_flag("--resume", opt->batch.resume, "Skip patients whose folder is finished");
  add_plan_options(sub, p, "Protocol for patients without one");
  sub->add_flag("--training-set", p.training_export,
                "Write training.safetensors per patient and training_manifest.json (docs/training_set.md)");
  sub->add_flag("--json", opt->json, "Print cohort_summary.json on stdout");
  return {sub, [opt, &global] { return run_batch_cmd(*opt, global); }};
}

}  // namespace vmatplan::cli
