#pragma once
// `vmatplan batch`: generate_plan over a cohort, one folder per patient, a cohort summary.
//
//   BatchOptions opt;  opt.cohort = "cohort.csv";  opt.out = "runs/c1";  opt.jobs = 2;
//   BatchResult r = run_batch(opt, [](const std::string& line) { ... });
//
// Manifest: CSV with a header naming `id` and `path` (and optionally `protocol`), or JSON:
// an array of {id, path, protocol?} (or {"patients": [...]}). Relative paths are relative
// to the manifest's folder. Ids are folder names (no '/', not starting with '.').
//
// State lives on disk, so that shards, kills and resumes compose: OUT/<id>/ exists only
// when finished (generate_plan writes it staged and renames it into place), a failure
// leaves OUT/<id>.failed.json with the error. cohort_summary.csv / .json are rebuilt from
// that state (one row per manifest patient: done / failed / pending) at the end of every
// run, so a killed-and-resumed run ends with the same summary as an uninterrupted one.
// --shard i/N takes the patients at positions i, i+N, i+2N... (1-based); --resume skips
// finished patients; --jobs N plans N patients at a time, each in its own process.
// With plan.training_export (--training-set) every patient folder also holds
// training.safetensors, a finished folder without one is redone on --resume, and
// OUT/training_manifest.json is rebuilt from the folders at the end of every run
// (pipeline/training_set.h).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/pipeline/generate.h"

namespace vmatplan {

struct CohortEntry {
  std::string id;
  std::string path;      // the patient (absolute, or as written when already absolute)
  std::string protocol;  // "" = the batch's protocol
};

// InputError naming the manifest (and line or entry) for anything malformed.
std::vector<CohortEntry> load_cohort(const std::string& manifest_path);

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
};
Shard parse_shard(const std::string& text);  // "i/N"; UsageError otherwise
// Positions (0-based) of a cohort of `size` patients that `shard` takes.
std::vector<size_t> shard_positions(size_t size, const Shard& shard);

struct BatchOptions {
  std::string cohort;       // manifest
  std::string out;          // folder for the patient folders and the cohort summary
  int jobs = 1;             // patients planned at once (processes)
  Shard shard;
  bool resume = false;      // skip finished patients
  GenerateOptions plan;     // per patient; patient, out and (when given) protocol are set
};

struct BatchResult {
  int planned = 0, skipped = 0, failed = 0;  // this run
  nlohmann::json summary;                     // cohort_summary.json
};

// Throws only for a bad manifest or options; patient failures are recorded.
BatchResult run_batch(const BatchOptions& options,
                      const std::function<void(const std::string&)>& log = {});

// True when `patient_dir` is a finished patient folder (it has summary.json).
bool is_finished_patient(const std::string& patient_dir);

// Rebuilds OUT/cohort_summary.{json,csv} from the folders; returns the JSON.
nlohmann::json write_cohort_summary(const std::string& out, const std::vector<CohortEntry>& cohort);

}  // namespace vmatplan
