#include "vmatplan/report/comparison_report.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "vmatplan/core/error.h"
#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/report/html_report.h"
#include "vmatplan/core/text_file.h"
#include "report_text.h"

namespace vmatplan {
namespace {

using report_text::fmt;
using report_text::status_class;

// A label as a file-name prefix: letters, digits, '-' and '_' kept, others become '_'.
std::string file_prefix(const std::string& label) {
  std::string s;
  for (unsigned char c : label) s += (std::isalnum(c) || c == '-' || c == '_') ? char(c) : '_';
  return s.empty() ? "dose" : s;
}

void require_two(const std::vector<ComparedDose>& doses) {
  if (doses.size() < 2) throw ProcessingError("compare: at least two doses are needed");
  for (const auto& d : doses)
    if (!d.evaluation) throw ProcessingError("compare: dose '" + d.label + "' has no evaluation");
}

}  // namespace

nlohmann::json build_comparison_json(const ComparisonInputs& in, const std::vector<ComparedDose>& doses) {
  require_two(doses);
  nlohmann::json j;
  j["patient"] = in.patient;
  j["protocol"] = in.protocol;
  j["labels"] = nlohmann::json::array();
  j["doses"] = nlohmann::json::array();
  for (const auto& d : doses) {
    j["labels"].push_back(d.label);
    const ReportInputs ri{in.patient, d.file, in.protocol, d.gamma ? doses.front().file : ""};
    j["doses"].push_back({{"label", d.label}, {"file", d.file},
                          {"summary", build_summary_json(*d.evaluation, ri, d.gamma)}});
  }
  const PlanEvaluation& first = *doses.front().evaluation;
  j["goals"] = nlohmann::json::array();
  for (size_t g = 0; g < first.goals.size(); ++g) {
    const GoalResult& r = first.goals[g];
    nlohmann::json row = {{"structure", r.structure}, {"role", r.goal.role},
                          {"metric", r.goal.metric.text}, {"unit", r.goal.metric.value_unit()},
                          {"comparison", to_string(r.goal.comparison)},
                          {"acceptable", r.goal.acceptable}, {"ideal", r.goal.ideal}};
    for (const auto& d : doses) {
      const GoalResult& x = d.evaluation->goals.at(g);
      row["values"].push_back(x.status == GoalStatus::kNotEvaluated ? nlohmann::json(nullptr)
                                                                     : nlohmann::json(x.value));
      row["statuses"].push_back(to_string(x.status));
    }
    j["goals"].push_back(row);
  }
  j["metrics"] = nlohmann::json::array();
  for (size_t s = 0; s < first.structures.size(); ++s) {
    nlohmann::json row = {{"structure", first.structures[s].name},
                          {"volume_cc", first.structures[s].metrics.volume_cc}};
    for (const auto& d : doses) {
      const DoseMetrics& m = d.evaluation->structures.at(s).metrics;
      row["mean_gy"].push_back(m.mean_gy);
      row["d98_gy"].push_back(m.d98_gy);
      row["d95_gy"].push_back(m.d95_gy);
      row["d50_gy"].push_back(m.d50_gy);
      row["d2_gy"].push_back(m.d2_gy);
      row["max_gy"].push_back(m.max_gy);
    }
    j["metrics"].push_back(row);
  }
  j["gamma"] = nlohmann::json::array();
  for (const auto& d : doses)
    if (d.gamma)
      j["gamma"].push_back({{"evaluated", d.label}, {"reference", doses.front().label},
                            {"dose_criterion_pct", d.gamma->options.dose_criterion_pct},
                            {"distance_mm", d.gamma->options.distance_mm},
                            {"local", d.gamma->options.local},
                            {"low_dose_threshold_pct", d.gamma->options.low_dose_threshold_pct},
                            {"pass_rate_pct", d.gamma->result.pass_rate_pct},
                            {"mean_gamma", d.gamma->result.mean_gamma},
                            {"evaluated_voxels", d.gamma->result.evaluated_voxels}});
  return j;
}

std::string render_comparison_html(const ComparisonInputs& in, const std::vector<ComparedDose>& doses,
                                   const std::string& dvh_svg,
                                   const std::vector<std::vector<DoseSlice>>& slices) {
  require_two(doses);
  const PlanEvaluation& first = *doses.front().evaluation;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>vmatplan comparison – "
    << xml_escape(first.protocol_name) << "</title>\n<style>\n"
    << "body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }\n"
       "h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }\n"
       "table { border-collapse: collapse; font-size: 13px; }\n"
       "th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }\n"
       "th { background: #eee; } td.l, th.l { text-align: left; }\n"
       "td.ideal { background: #c8ecc8; } td.acceptable { background: #fff1b8; }\n"
       "td.fail { background: #f6c0c0; } td.na { background: #eeeeee; color: #777; }\n"
       ".small { font-size: 12px; color: #555; }\n"
       ".slices { display: flex; flex-wrap: wrap; gap: 8px; } .slices figure { margin: 0; }\n"
       "</style>\n</head><body>\n";
  h << "<h1>Dose comparison: " << xml_escape(first.protocol_name) << "</h1>\n<p class=\"small\">Patient: "
    << xml_escape(in.patient) << "<br>Protocol: " << xml_escape(in.protocol);
  for (const auto& d : doses) h << "<br>" << xml_escape(d.label) << ": " << xml_escape(d.file);
  h << "<br>Each dose is resampled trilinearly onto the CT grid; the same masks are used for all.</p>\n";
  h << "<h2>Dose-volume histograms</h2>\n" << dvh_svg;

  h << "<h2>Clinical goals</h2>\n<table>\n<tr><th class=\"l\">Structure</th><th class=\"l\">Metric</th>"
       "<th>Acceptable</th>";
  for (const auto& d : doses) h << "<th>" << xml_escape(d.label) << "</th>";
  h << "</tr>\n";
  for (size_t g = 0; g < first.goals.size(); ++g) {
    const GoalResult& r = first.goals[g];
    const std::string unit = r.goal.metric.value_unit();
    h << "<tr><td class=\"l\">" << xml_escape(r.structure.empty() ? r.goal.role + " (absent)" : r.structure)
      << "</td><td class=\"l\">" << xml_escape(r.goal.metric.text) << "</td><td>"
      << (r.goal.comparison == GoalComparison::kAtMost ? "&le; " : "&ge; ") << fmt(r.goal.acceptable, "%g")
      << " " << unit << "</td>";
    for (const auto& d : doses) {
      const GoalResult& x = d.evaluation->goals.at(g);
      h << "<td class=\"" << status_class(x.status) << "\">"
        << (x.status == GoalStatus::kNotEvaluated ? "–" : fmt(x.value) + " " + unit) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n<p class=\"small\">Green: ideal met; yellow: acceptable; red: failed.</p>\n";

  h << "<h2>Structures</h2>\n<table>\n<tr><th class=\"l\">Structure</th><th>Volume (cc)</th>";
  const char* metric_names[] = {"Mean", "D98%", "D95%", "D2%", "Max"};
  for (const char* m : metric_names)
    for (const auto& d : doses) h << "<th>" << m << " " << xml_escape(d.label) << " (Gy)</th>";
  h << "</tr>\n";
  for (size_t s = 0; s < first.structures.size(); ++s) {
    h << "<tr><td class=\"l\">" << xml_escape(first.structures[s].name) << "</td><td>"
      << fmt(first.structures[s].metrics.volume_cc) << "</td>";
    for (int m = 0; m < 5; ++m)
      for (const auto& d : doses) {
        const DoseMetrics& x = d.evaluation->structures.at(s).metrics;
        const double v[] = {x.mean_gy, x.d98_gy, x.d95_gy, x.d2_gy, x.max_gy};
        h << "<td>" << fmt(v[m]) << "</td>";
      }
    h << "</tr>\n";
  }
  h << "</table>\n";

  h << "<h2>Gamma</h2>\n";
  for (const auto& d : doses) {
    if (!d.gamma) continue;
    const GammaOptions& o = d.gamma->options;
    const GammaResult& r = d.gamma->result;
    h << "<p>" << xml_escape(d.label) << " against " << xml_escape(doses.front().label) << ": "
      << (o.local ? "local" : "global") << " " << fmt(o.dose_criterion_pct, "%g") << "% / "
      << fmt(o.distance_mm, "%g") << " mm, low-dose threshold " << fmt(o.low_dose_threshold_pct, "%g")
      << "% of " << fmt(r.normalisation_dose_gy) << " Gy: <b>pass rate " << fmt(r.pass_rate_pct)
      << "%</b>, mean gamma " << fmt(r.mean_gamma, "%.3f") << ", " << r.evaluated_voxels
      << " voxels evaluated.</p>\n";
  }
  for (size_t k = 0; k < slices.size() && k < doses.size(); ++k)
    h << dose_slices_html(slices[k], "Dose distribution: " + doses[k].label);
  h << "</body></html>\n";
  return h.str();
}

void write_comparison_report(const std::string& dir, const ComparisonInputs& in,
                             const std::vector<ComparedDose>& doses) {
  require_two(doses);
  std::vector<const PlanEvaluation*> evals;
  std::vector<std::string> labels;
  for (const auto& d : doses) evals.push_back(d.evaluation), labels.push_back(d.label);
  const std::string svg = render_dvh_comparison_svg(evals, labels);
  std::vector<std::vector<DoseSlice>> slices;
  if (in.patient_data)
    for (const auto& d : doses) {
      if (!d.dose) continue;
      slices.push_back(render_dose_slices(*in.patient_data, *d.dose, *d.evaluation));
      for (auto& s : slices.back()) s.file_name = file_prefix(d.label) + "_" + s.file_name;
    }
  write_text_file(dir + "/compare.json", build_comparison_json(in, doses).dump(2) + "\n");
  write_text_file(dir + "/dvh.svg", svg);
  for (const auto& v : slices) write_dose_slices(dir, v);
  write_text_file(dir + "/report.html", render_comparison_html(in, doses, svg, slices));
}

}  // namespace vmatplan
