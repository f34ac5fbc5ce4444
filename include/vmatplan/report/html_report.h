#pragma once
// report.html: one self-contained page with the DVH plot (inline SVG), the clinical goals
// (coloured by verdict), target indices, structure metrics and gamma when computed.
//
//   write_plan_report(out_dir, evaluation, inputs, gamma_or_null);
//   // -> out_dir/summary.json, out_dir/dvh.svg, out_dir/report.html
#include <string>

#include "vmatplan/report/summary_json.h"

namespace vmatplan {

std::string render_html_report(const PlanEvaluation& evaluation, const ReportInputs& inputs,
                               const std::string& dvh_svg, const GammaSummary* gamma = nullptr);

// Writes the three files into an existing folder (the caller stages it); InputError naming
// the file when one cannot be written.
void write_plan_report(const std::string& dir, const PlanEvaluation& evaluation,
                       const ReportInputs& inputs, const GammaSummary* gamma = nullptr);

}  // namespace vmatplan
