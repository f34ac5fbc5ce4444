#include "vmatplan/report/html_report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "vmatplan/core/error.h"
#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/core/text_file.h"
#include "report_text.h"

namespace vmatplan {
namespace {

using report_text::fmt;
using report_text::status_class;

const char* kStyle = R"(<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
tr.ideal td { background: #c8ecc8; } tr.acceptable td { background: #fff1b8; }
tr.fail td { background: #f6c0c0; } tr.na td { background: #eeeeee; color: #777; }
.small { font-size: 12px; color: #555; }
.slices { display: flex; flex-wrap: wrap; gap: 8px; } .slices figure { margin: 0; }
</style>
)";

}  // namespace

std::string dose_slices_html(const std::vector<DoseSlice>& slices, const std::string& heading) {
  if (slices.empty()) return "";
  std::ostringstream h;
  h << "<h2>" << xml_escape(heading) << "</h2>\n<p class=\"small\">CT in grey (window 40 / 400 HU), "
       "dose as a colour wash from 10 % of the prescription, isodose lines at 95 / 80 / 50 / 30 % "
       "of the prescription (red, orange, green, blue), structure outlines in their colours; "
       "the cross marks the point each slice goes through. Files: ";
  for (size_t i = 0; i < slices.size(); ++i) h << (i ? ", " : "") << xml_escape(slices[i].file_name);
  h << ".</p>\n<div class=\"slices\">\n";
  for (const auto& s : slices) h << "<figure>" << s.svg << "</figure>\n";
  h << "</div>\n";
  return h.str();
}

void write_dose_slices(const std::string& dir, const std::vector<DoseSlice>& slices) {
  for (const auto& s : slices) write_text_file(dir + "/" + s.file_name, s.svg);
}

std::string render_html_report(const PlanEvaluation& e, const ReportInputs& in,
                               const std::string& svg, const GammaSummary* gamma,
                               const std::vector<DoseSlice>* slices) {
  const Prescription& rx = e.prescription;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>vmatplan report – "
    << xml_escape(e.protocol_name) << "</title>\n" << kStyle << "</head><body>\n";
  h << "<h1>Plan evaluation: " << xml_escape(e.protocol_name) << "</h1>\n";
  h << "<p>Prescription " << fmt(rx.total_dose_gy, "%g") << " Gy in " << rx.fractions
    << " fractions (" << fmt(rx.dose_per_fraction_gy(), "%.3g") << " Gy per fraction). "
    << "Normalisation rule: " << xml_escape(rx.normalisation.metric) << " of "
    << xml_escape(rx.normalisation.role) << " = " << fmt(rx.normalisation.value_gy, "%g")
    << " Gy; as planned " << fmt(e.normalisation_value_gy) << " Gy (scale "
    << fmt(e.normalisation_scale, "%.4f") << " would normalise).</p>\n";
  h << "<p class=\"small\">Patient: " << xml_escape(in.patient) << "<br>Dose: "
    << xml_escape(in.dose) << "<br>Protocol: " << xml_escape(in.protocol);
  if (!in.reference.empty()) h << "<br>Reference dose: " << xml_escape(in.reference);
  h << "<br>The dose is resampled trilinearly onto the CT grid; masks are used as rasterised.</p>\n";

  h << "<h2>Dose-volume histogram</h2>\n" << svg;
  if (slices) h << dose_slices_html(*slices, "Dose distribution");

  h << "<h2>Clinical goals (" << e.goals_passed() << " passed, " << e.goals_failed()
    << " failed)</h2>\n<table>\n<tr><th class=\"l\">Structure</th><th class=\"l\">Metric</th>"
       "<th>Acceptable</th><th>Ideal</th><th>Value</th><th class=\"l\">Result</th>"
       "<th class=\"l\">Source</th></tr>\n";
  for (const auto& r : e.goals) {
    const auto& g = r.goal;
    const std::string unit = g.metric.value_unit();
    const std::string cmp = g.comparison == GoalComparison::kAtMost ? "&le; " : "&ge; ";
    h << "<tr class=\"" << status_class(r.status) << "\"><td class=\"l\">"
      << xml_escape(r.structure.empty() ? g.role + " (absent)" : r.structure)
      << "</td><td class=\"l\">" << xml_escape(g.metric.text) << "</td><td>" << cmp
      << fmt(g.acceptable, "%g") << " " << unit << "</td><td>" << cmp << fmt(g.ideal, "%g") << " "
      << unit << "</td><td>"
      << (r.status == GoalStatus::kNotEvaluated ? "–" : fmt(r.value) + " " + unit)
      << "</td><td class=\"l\">" << to_string(r.status) << "</td><td class=\"l small\">"
      << xml_escape(g.source) << "</td></tr>\n";
  }
  h << "</table>\n";

  h << "<h2>Targets</h2>\n<table>\n<tr><th class=\"l\">Structure</th><th>Rx (Gy)</th>"
       "<th>TV (cc)</th><th>PIV (cc)</th><th>TV<sub>PIV</sub> (cc)</th>"
       "<th>Paddick CI</th><th>Gradient index</th></tr>\n";
  for (const auto& t : e.targets)
    h << "<tr><td class=\"l\">" << xml_escape(t.structure) << "</td><td>"
      << fmt(t.indices.prescription_gy, "%g") << "</td><td>" << fmt(t.indices.tv_cc) << "</td><td>"
      << fmt(t.indices.piv_cc) << "</td><td>" << fmt(t.indices.tv_piv_cc) << "</td><td>"
      << fmt(t.indices.paddick_ci, "%.3f") << "</td><td>" << fmt(t.indices.gradient_index, "%.3f")
      << "</td></tr>\n";
  h << "</table>\n<p class=\"small\">CI: Paddick (2000) TV<sub>PIV</sub>&sup2;/(TV&middot;PIV); "
       "GI: Paddick &amp; Lippitz (2006) PIV<sub>50%</sub>/PIV<sub>100%</sub>; isodose volumes "
       "counted inside the body.</p>\n";

  h << "<h2>Structures</h2>\n<table>\n<tr><th class=\"l\">Structure</th><th class=\"l\">Role</th>"
       "<th>Volume (cc)</th><th>Mean (Gy)</th><th>Min (Gy)</th><th>Max (Gy)</th>"
       "<th>D98% (Gy)</th><th>D95% (Gy)</th><th>D50% (Gy)</th><th>D2% (Gy)</th>"
       "<th>D0.03cc (Gy)</th><th>HI</th></tr>\n";
  for (const auto& s : e.structures) {
    const DoseMetrics& m = s.metrics;
    h << "<tr><td class=\"l\">" << xml_escape(s.name) << "</td><td class=\"l\">"
      << xml_escape(s.role) << "</td><td>" << fmt(m.volume_cc) << "</td><td>" << fmt(m.mean_gy)
      << "</td><td>" << fmt(m.min_gy) << "</td><td>" << fmt(m.max_gy) << "</td><td>"
      << fmt(m.d98_gy) << "</td><td>" << fmt(m.d95_gy) << "</td><td>" << fmt(m.d50_gy)
      << "</td><td>" << fmt(m.d2_gy) << "</td><td>" << fmt(m.d0_03cc_gy) << "</td><td>"
      << fmt(m.homogeneity_index, "%.3f") << "</td></tr>\n";
  }
  h << "</table>\n<p class=\"small\">HI: ICRU 83 (D2% &minus; D98%)/D50%.</p>\n";

  if (gamma) {
    const GammaOptions& o = gamma->options;
    const GammaResult& r = gamma->result;
    h << "<h2>Gamma vs reference</h2>\n<p>" << (o.local ? "Local" : "Global") << " gamma "
      << fmt(o.dose_criterion_pct, "%g") << "% / " << fmt(o.distance_mm, "%g")
      << " mm, low-dose threshold " << fmt(o.low_dose_threshold_pct, "%g") << "% of "
      << fmt(r.normalisation_dose_gy) << " Gy: <b>pass rate " << fmt(r.pass_rate_pct) << "%</b>, "
      << "mean gamma " << fmt(r.mean_gamma, "%.3f") << ", " << r.evaluated_voxels
      << " voxels evaluated.</p>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

void write_plan_report(const std::string& dir, const PlanEvaluation& e, const ReportInputs& in,
                       const GammaSummary* gamma, const DoseView& view) {
  const std::string svg = render_dvh_svg(e);
  std::vector<DoseSlice> slices;
  if (view.patient && view.dose) slices = render_dose_slices(*view.patient, *view.dose, e);
  write_text_file(dir + "/summary.json", build_summary_json(e, in, gamma).dump(2) + "\n");
  write_text_file(dir + "/dvh.svg", svg);
  write_dose_slices(dir, slices);
  write_text_file(dir + "/report.html", render_html_report(e, in, svg, gamma, view.patient ? &slices : nullptr));
}

}  // namespace vmatplan
