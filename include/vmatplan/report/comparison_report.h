#pragma once
// Comparing doses of one patient (e.g. a planning system's RD.dcm and vmatplan's): DVHs
// overlaid, clinical goals and structure metrics side by side, gamma of every dose against
// the first, and the dose pictures of each.
//
//   write_comparison_report(out_dir, inputs, {{"Eclipse", "RD.dcm", &e1, nullptr, &d1},
//                                             {"vmatplan", "RD2.dcm", &e2, &gamma, &d2}});
//   // -> out_dir/compare.json, dvh.svg, report.html, <label>_dose_<view>_<through>.svg
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/report/dose_slices.h"
#include "vmatplan/report/summary_json.h"

namespace vmatplan {

struct ComparedDose {
  std::string label;
  std::string file;
  const PlanEvaluation* evaluation = nullptr;
  const GammaSummary* gamma = nullptr;  // this dose against the first; null for the first
  const DoseImage* dose = nullptr;      // for the pictures; null: none
};

struct ComparisonInputs {
  std::string patient;   // path
  std::string protocol;  // path
  const Patient* patient_data = nullptr;  // for the pictures; null: none
};

// compare.json: {patient, protocol, labels, doses[{label, file, summary}], goals[{structure,
// role, metric, unit, comparison, acceptable, values[], statuses[]}], metrics[{structure,
// volume_cc, mean_gy[], d98_gy[], d95_gy[], d50_gy[], d2_gy[], max_gy[]}],
// gamma[{evaluated, reference, pass_rate_pct, mean_gamma, evaluated_voxels, criteria}]}.
nlohmann::json build_comparison_json(const ComparisonInputs& inputs,
                                     const std::vector<ComparedDose>& doses);

std::string render_comparison_html(const ComparisonInputs& inputs,
                                   const std::vector<ComparedDose>& doses,
                                   const std::string& dvh_svg,
                                   const std::vector<std::vector<DoseSlice>>& slices);

// Writes compare.json, dvh.svg, report.html and the dose pictures into `dir` (which
// exists). At least two doses; ProcessingError otherwise.
void write_comparison_report(const std::string& dir, const ComparisonInputs& inputs,
                             const std::vector<ComparedDose>& doses);

}  // namespace vmatplan
