#pragma once
// The report of a generated plan: summary.json (the evaluation's summary plus MU,
// complexity, delivery time, the options and the defaults chosen, per-stage timings and
// tool versions), dvh.svg, dvh.json (sampled DVHs, report/dvh_samples.h), the dose pictures (dose_*.svg, when the dose is given) and
// report.html (the evaluation page plus a plan section).
//
//   nlohmann::json s = write_generate_report(stage_dir, inputs);
#include <string>

#include <nlohmann/json.hpp>

#include "vmatplan/pipeline/generate.h"

namespace vmatplan {

struct Patient;

struct PlanSummaryInputs {
  const GenerateOptions& options;
  const Protocol& protocol;
  const Patient& patient;
  const nlohmann::json& fluence_info;  // what the fluence stages did
  const GenerateResult& result;        // evaluation, complexity, timings
  nlohmann::json tool_versions = nlohmann::json::object();
  const Image3D<float>* dose = nullptr;  // the final dose: pictures in the report when given
};

// The summary.json content.
nlohmann::json generate_summary_json(const PlanSummaryInputs& inputs);
// Writes summary.json, dvh.svg, dvh.json and report.html into `dir` (which exists); returns the summary.
nlohmann::json write_generate_report(const std::string& dir, const PlanSummaryInputs& inputs);

}  // namespace vmatplan
