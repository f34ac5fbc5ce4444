// The regression report folder: regression.json, regression.csv and report.html.
#include <sstream>

#include "report_text.h"
#include "vmatplan/core/text_file.h"
#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/report/regression.h"

namespace vmatplan {
namespace {

std::string regression_csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

std::string regression_cell(double v) { return report_text::fmt(v, "%.4g"); }

// The patient's DVH overlay: the run solid, the reference dashed, structures matched by name.
std::string patient_dvh_svg(const std::string& id, const RegressionPatient* got, const std::vector<SampledDvh>* ref,
                            const std::string& ref_label) {
  std::vector<DvhPlotSeries> series;
  if (got && !got->dvh.empty()) {
    DvhPlotSeries s{"this run", {}};
    for (const auto& d : got->dvh) s.curves.push_back(plot_curve(d));
    series.push_back(std::move(s));
  }
  if (ref && !ref->empty()) {
    DvhPlotSeries s{ref_label, {}};
    for (const auto& d : *ref) s.curves.push_back(plot_curve(d));
    series.push_back(std::move(s));
  }
  if (series.empty()) return "<p class=\"small\">No DVH samples (dvh.json) for this patient.</p>\n";
  DvhPlotOptions o;
  o.width_px = 760;
  o.height_px = 420;
  o.title = "DVH: " + id;
  return render_dvh_curves_svg(series, got ? got->prescription : std::vector<TargetLevel>{}, o);
}

}  // namespace

nlohmann::json regression_result_json(const RegressionResult& r) {
  nlohmann::json patients = nlohmann::json::array();
  for (const auto& p : r.patients) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : p.checks) {
      checks.push_back({{"metric", c.metric}, {"expected", {c.low, c.high}}, {"pass", c.pass}});
      checks.back()["value"] = c.present ? nlohmann::json(c.value) : nlohmann::json(nullptr);
    }
    patients.push_back({{"id", p.id}, {"status", p.status}, {"error", p.error}, {"pass", p.pass()},
                        {"checks", checks}});
  }
  return {{"expected", r.expected_source}, {"pass", r.pass()}, {"failures", r.failures()},
          {"patients", patients}};
}

std::string regression_result_csv(const RegressionResult& r) {
  std::string csv = "patient,status,metric,value,expected_low,expected_high,pass\n";
  for (const auto& p : r.patients) {
    if (p.checks.empty()) csv += regression_csv_cell(p.id) + "," + p.status + ",,,,,false\n";
    for (const auto& c : p.checks)
      csv += regression_csv_cell(p.id) + "," + p.status + "," + regression_csv_cell(c.metric) + "," +
             (c.present ? regression_cell(c.value) : "") + "," + regression_cell(c.low) + "," +
             regression_cell(c.high) + "," + (c.pass ? "true" : "false") + "\n";
  }
  return csv;
}

std::string render_regression_html(const RegressionReportInputs& in) {
  const RegressionResult& r = in.result;
  const std::vector<std::string> failures = r.failures();
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << xml_escape(in.title)
    << "</title>\n<style>\n"
       "body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }\n"
       "h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }\n"
       "table { border-collapse: collapse; font-size: 13px; }\n"
       "th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }\n"
       "th { background: #eee; } td.l, th.l { text-align: left; }\n"
       "td.pass { background: #c8ecc8; } td.fail { background: #f6c0c0; }\n"
       ".verdict-pass { color: #17752a; } .verdict-fail { color: #b01515; }\n"
       ".small { font-size: 12px; color: #555; }\n"
       ".patient { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }\n"
       "</style>\n</head><body>\n";
  int passed = 0;
  for (const auto& p : r.patients) passed += p.pass();
  h << "<h1>" << xml_escape(in.title) << ": <span class=\"verdict-" << (failures.empty() ? "pass\">PASS" : "fail\">FAIL")
    << "</span></h1>\n<p class=\"small\">Run: " << xml_escape(in.run.dir) << "<br>Compared with: "
    << xml_escape(r.expected_source) << "<br>" << passed << " of " << r.patients.size()
    << " patients within range; DVHs: this run solid, " << xml_escape(in.reference_label) << " dashed.</p>\n";

  h << "<h2>Summary</h2>\n<table>\n<tr><th class=\"l\">Patient</th><th class=\"l\">Status</th><th>Checks</th>"
       "<th>Out of range</th><th>Goals passed</th><th>PTV D95 (Gy)</th><th>Rectum mean (Gy)</th>"
       "<th>MU/Gy</th><th>Beam-on (s)</th></tr>\n";
  for (const auto& p : r.patients) {
    const RegressionPatient* got = in.run.find(p.id);
    int bad = 0;
    for (const auto& c : p.checks) bad += !c.pass;
    auto metric = [&](const char* name) {
      if (!got || !got->metrics.count(name)) return std::string("–");
      return report_text::fmt(got->metrics.at(name), "%.2f");
    };
    h << "<tr><td class=\"l\"><a href=\"#" << xml_escape(p.id) << "\">" << xml_escape(p.id) << "</a></td><td class=\"l "
      << (p.pass() ? "pass" : "fail") << "\">" << xml_escape(p.status) << "</td><td>" << p.checks.size()
      << "</td><td class=\"" << (bad ? "fail" : "pass") << "\">" << bad << "</td><td>"
      << (got && got->status == "done" ? std::to_string(got->goals_passed) + "/" + std::to_string(got->goals_total) : "–")
      << "</td><td>" << metric("ptv_d95_gy") << "</td><td>" << metric("rectum_mean_gy") << "</td><td>"
      << metric("mu_per_gy") << "</td><td>" << metric("beam_on_s") << "</td></tr>\n";
  }
  h << "</table>\n";
  if (!failures.empty()) {
    h << "<h2>Out of range</h2>\n<ul>\n";
    for (const auto& f : failures) h << "<li>" << xml_escape(f) << "</li>\n";
    h << "</ul>\n";
  }

  for (const auto& p : r.patients) {
    const RegressionPatient* got = in.run.find(p.id);
    h << "<h2 id=\"" << xml_escape(p.id) << "\">" << xml_escape(p.id) << " <span class=\"verdict-"
      << (p.pass() ? "pass\">within range" : "fail\">out of range") << "</span></h2>\n";
    if (!p.error.empty()) h << "<p class=\"verdict-fail\">" << xml_escape(p.error) << "</p>\n";
    h << "<div class=\"patient\">\n<table>\n<tr><th class=\"l\">Metric</th><th>Expected</th><th>Value</th></tr>\n";
    for (const auto& c : p.checks)
      h << "<tr><td class=\"l\">" << xml_escape(c.metric) << "</td><td>" << regression_cell(c.low) << " – "
        << regression_cell(c.high) << "</td><td class=\"" << (c.pass ? "pass" : "fail") << "\">"
        << (c.present ? regression_cell(c.value) : "missing") << "</td></tr>\n";
    h << "</table>\n";
    const auto ref = in.expected_dvh.find(p.id);
    h << "<div>" << patient_dvh_svg(p.id, got, ref == in.expected_dvh.end() ? nullptr : &ref->second, in.reference_label)
      << "</div>\n</div>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

void write_regression_report(const std::string& dir, const RegressionReportInputs& in) {
  write_text_file(dir + "/regression.json", regression_result_json(in.result).dump(2) + "\n");
  write_text_file(dir + "/regression.csv", regression_result_csv(in.result));
  write_text_file(dir + "/report.html", render_regression_html(in));
}

}  // namespace vmatplan
