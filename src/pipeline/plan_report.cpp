// summary.json and report.html of a generated plan.
#include "vmatplan/pipeline/plan_report.h"

#include <cstdio>
#include <fstream>

#include "vmatplan/core/error.h"
#include "vmatplan/core/text_file.h"
#include "vmatplan/patient/patient.h"
#include "vmatplan/report/dvh_samples.h"
#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/report/html_report.h"
#include "vmatplan/report/summary_json.h"

namespace vmatplan {
namespace {

std::string number(double v, const char* format = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A plan section for the HTML page: MU, delivery, complexity and stage timings.
std::string plan_section_html(const nlohmann::json& s) {
  const nlohmann::json& p = s["plan"];
  std::string h = "<h2>Plan</h2>\n<table>\n";
  auto row = [&h](const std::string& k, const std::string& v) {
    h += "<tr><td>" + xml_escape(k) + "</td><td>" + xml_escape(v) + "</td></tr>\n";
  };
  // "auto" names the generator it chose, e.g. "auto (fmd)".
  std::string generator = s["options"]["generator"].get<std::string>();
  const std::string used = s.value("fluence_stage", nlohmann::json::object()).value("generator", generator);
  if (used != generator) generator += " (" + used + ")";
  row("Generator / refiner", generator + " / " + s["options"]["refiner"].get<std::string>());
  row("Beams", std::to_string(p["beams"].get<int>()) + " arcs, " +
                   std::to_string(p["control_points"].get<int>()) + " control points");
  row("MU per fraction", number(p["mu_per_fraction"].get<double>()));
  row("MU per Gy", number(p["mu_per_gy"].get<double>(), "%.2f"));
  row("Estimated beam-on time", number(p["delivery_time_s"].get<double>()) + " s");
  row("MCSv", number(p["complexity"]["mcsv"].get<double>(), "%.3f"));
  row("MU renormalisation", "x" + number(p["mu_renormalisation_scale"].get<double>(), "%.4f"));
  row("Final dose grid", number(s["options"]["final_dose_spacing_mm"].get<double>(), "%g") + " mm");
  row("Meterset re-optimisation", s["meterset_reoptimization"].value("status", ""));
  // Says what happened to goals met on the optimisation grid and failed on the final one.
  const nlohmann::json c = s.value("final_grid_correction", nlohmann::json::object());
  if (c.contains("status")) {
    std::string v = c["status"].get<std::string>();
    if (c.contains("goals_met_before"))
      v += ": " + std::to_string(c["goals_met_before"].get<int>()) + " -> " +
           std::to_string(c["goals_met_after"].get<int>()) + " goals met on the final grid";
    row("Final-grid correction", v);
  }
  h += "</table>\n";
  if (!s["patient_warnings"].empty() || !s["plan_warnings"].empty()) {
    h += "<h2>Warnings</h2>\n<ul>\n";
    for (const char* key : {"patient_warnings", "plan_warnings"})
      for (const auto& w : s[key]) h += "<li>" + xml_escape(w.get<std::string>()) + "</li>\n";
    h += "</ul>\n";
  }
  h += "<h2>Timings</h2>\n<table>\n";
  for (const auto& st : s["stages"]) row(st["stage"].get<std::string>(), number(st["seconds"].get<double>(), "%.2f") + " s");
  row("total", number(s["total_seconds"].get<double>(), "%.2f") + " s");
  return h + "</table>\n";
}

}  // namespace

nlohmann::json generate_summary_json(const PlanSummaryInputs& in) {
  const GenerateResult& r = in.result;
  const ReportInputs report_inputs{in.options.patient, "RD.dcm", in.protocol.path, ""};
  nlohmann::json s = build_summary_json(r.evaluation, report_inputs);
  s["goals_passed"] = r.evaluation.goals_passed();
  s["goals_failed"] = r.evaluation.goals_failed();
  s["plan"] = {{"mu_per_fraction", r.complexity.total_mu},
               {"mu_per_gy", r.complexity.mu_per_gy},
               {"delivery_time_s", r.complexity.delivery_time_s},
               {"beams", static_cast<int>(r.complexity.beams.size())},
               {"control_points", r.control_points},
               {"mu_renormalisation_scale", r.mu_scale},
               {"deliverability_violations", r.deliverability_violations},
               {"complexity", complexity_to_json(r.complexity)},
               {"files", {"RP.dcm", "RD.dcm", "plan.json", "summary.json", "dvh.svg", "dvh.json", "report.html"}}};
  if (in.dose)
    for (const char* v : {"axial", "sagittal", "coronal"})
      for (const char* t : {"target", "max"})
        s["plan"]["files"].push_back(std::string("dose_") + v + "_" + t + ".svg");
  if (in.patient.format != "dicom") s["plan"]["files"].push_back("ct/ (CT series + RS.dcm)");
  s["fluence_stage"] = in.fluence_info;
  s["meterset_reoptimization"] = r.meterset;
  s["final_grid_correction"] = r.final_grid_correction;
  s["options"] = generate_options_json(in.options);
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& [name, sec] : r.stage_seconds) stages.push_back({{"stage", name}, {"seconds", sec}});
  s["stages"] = stages;
  s["total_seconds"] = r.total_seconds;
  s["tool_versions"] = in.tool_versions;
  s["patient_source"] = in.patient.source;
  s["patient_warnings"] = in.patient.warnings;  // loading and planning checks
  s["plan_warnings"] = r.plan_warnings;          // goals lost between the grids
  return s;
}

nlohmann::json write_generate_report(const std::string& dir, const PlanSummaryInputs& in) {
  nlohmann::json s = generate_summary_json(in);
  const ReportInputs report_inputs{in.options.patient, "RD.dcm", in.protocol.path, ""};
  const std::string svg = render_dvh_svg(in.result.evaluation);
  std::vector<DoseSlice> slices;
  if (in.dose) slices = render_dose_slices(in.patient, *in.dose, in.result.evaluation);
  std::string html =
      render_html_report(in.result.evaluation, report_inputs, svg, nullptr, in.dose ? &slices : nullptr);
  const size_t end = html.rfind("</body>");
  if (end != std::string::npos) html.insert(end, plan_section_html(s));
  write_text_file(dir + "/summary.json", s.dump(2) + "\n");
  write_text_file(dir + "/dvh.svg", svg);
  write_text_file(dir + "/dvh.json", dvh_samples_json(sample_dvhs(in.result.evaluation)).dump() + "\n");
  write_dose_slices(dir, slices);
  write_text_file(dir + "/report.html", html);
  return s;
}

}  // namespace vmatplan
