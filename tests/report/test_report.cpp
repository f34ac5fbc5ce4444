// Report: summary JSON keys, the hand-written SVG (curves, prescription line, legend,
// axes), and the HTML page embedding both.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "test_support.h"
#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/report/html_report.h"

using namespace vmatplan;

namespace {

PlanEvaluation sample_evaluation() {
  Patient p;
  p.source = "sample";
  ImageGrid g;
  g.size = {20, 20, 10};
  g.spacing_mm = {2, 2, 2};
  p.ct_hu = CtImage(g, 0.0f);
  Structure body{1, "BODY", "EXTERNAL", {255, 255, 255}, Mask(g, 1), {}};
  Structure ptv{2, "PTV <60>", "PTV", {255, 0, 0}, Mask(g, 0), {}};
  Structure rectum{3, "Rectum", "ORGAN", {150, 75, 0}, Mask(g, 0), {}};
  Structure left{4, "Femur_Head_L", "ORGAN", {0, 0, 255}, Mask(g, 0), {}};
  Structure right{5, "Femur_Head_R", "ORGAN", {0, 128, 255}, Mask(g, 0), {}};
  Structure bladder{6, "Bladder", "ORGAN", {255, 255, 0}, Mask(g, 0), {}};
  for (int k = 2; k < 8; ++k)
    for (int j = 0; j < 4; ++j)
      for (int i = 5; i < 12; ++i) bladder.mask.at(i, j, k) = 1;  // 5 Gy: passes
  DoseImage dose(g, 5.0f);
  for (int k = 2; k < 8; ++k)
    for (int j = 5; j < 15; ++j)
      for (int i = 0; i < 20; ++i) {
        if (i >= 5 && i < 10) ptv.mask.at(i, j, k) = 1;
        if (i >= 12 && i < 16) rectum.mask.at(i, j, k) = 1;
        if (i >= 10 && i < 12) left.mask.at(i, j, k) = 1;  // in the 45 Gy region: fails
        if (i >= 17) right.mask.at(i, j, k) = 1;            // 5 Gy: passes
        if (i >= 5 && i < 14) dose.at(i, j, k) = i < 10 ? 61.0f : 45.0f;
      }
  p.structures = {body, ptv, rectum, left, right, bladder};
  StructureRoles roles = StructureRoles::load_default();
  roles.add("ptv", {"PTV <60>"});  // a name that needs escaping in SVG and HTML
  return evaluate_plan(p, dose, load_protocol("prostate_60gy_20fx"), roles);
}

}  // namespace

TEST_CASE("nice_ticks and xml_escape", "[report]") {
  CHECK(nice_ticks(63.0, 10) == std::vector<double>{0, 10, 20, 30, 40, 50, 60, 70});
  CHECK(nice_ticks(47.0, 10) == std::vector<double>{0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50});
  CHECK(nice_ticks(1.0, 4) == std::vector<double>{0, 0.25, 0.5, 0.75, 1.0});
  CHECK(xml_escape("a<b & \"c\">'") == "a&lt;b &amp; &quot;c&quot;&gt;&#39;");
}

TEST_CASE("DVH plot: one curve per structure, Rx line, legend, axes", "[report][svg]") {
  const PlanEvaluation e = sample_evaluation();
  const std::string svg = render_dvh_svg(e);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(test::count_occurrences(svg, "<polyline") == 6);
  CHECK(svg.find("Rx 60 Gy (ptv)") != std::string::npos);
  CHECK(svg.find("Dose (Gy)") != std::string::npos);
  CHECK(svg.find("Volume (%)") != std::string::npos);
  CHECK(svg.find("PTV &lt;60&gt;") != std::string::npos);  // names are escaped
  CHECK(svg.find("PTV <60>") == std::string::npos);
  CHECK(svg.find(">Prescription<") != std::string::npos);
  CHECK(svg.find("stroke=\"#ff0000\"") != std::string::npos);  // PTV colour from the RTSTRUCT
  CHECK(svg.find("stroke=\"#ffffff\"") == std::string::npos);  // white BODY is darkened
  CHECK(svg.find(">70</text>") != std::string::npos);          // x axis reaches past 61 Gy
  CHECK(svg.find(">100</text>") != std::string::npos);
}

TEST_CASE("Summary JSON and HTML report", "[report]") {
  const PlanEvaluation e = sample_evaluation();
  const ReportInputs in{"sample", "dose.nii.gz", "prostate_60gy_20fx.json", ""};
  const nlohmann::json j = build_summary_json(e, in);
  REQUIRE(j["structures"].size() == 6);
  for (const auto& s : j["structures"])
    for (const char* k : {"name", "volume_cc", "mean_gy", "min_gy", "max_gy", "d95_gy", "d2_gy", "d98_gy"})
      CHECK(s.contains(k));
  REQUIRE(j["goals"].size() == e.goals.size());
  for (const auto& g : j["goals"])
    for (const char* k : {"structure", "metric", "threshold", "value", "pass", "status"})
      CHECK(g.contains(k));
  CHECK(j["prescription"]["total_dose_gy"] == 60.0);
  CHECK(j["prescription"]["normalisation"]["planned_gy"].get<double>() == Approx(61.0));
  CHECK_FALSE(j.contains("gamma"));
  CHECK(j["goals_passed"].get<int>() + j["goals_failed"].get<int>() +
            j["goals_not_evaluated"].get<int>() == static_cast<int>(e.goals.size()));

  GammaSummary gs;
  gs.result.pass_rate_pct = 97.5;
  gs.result.evaluated_voxels = 10;
  CHECK(build_summary_json(e, in, &gs)["gamma"]["pass_rate_pct"] == 97.5);

  const std::string dir = test::scratch_dir("report_files");
  write_plan_report(dir, e, in, &gs);
  std::ifstream html_in(dir + "/report.html");
  std::stringstream ss;
  ss << html_in.rdbuf();
  const std::string html = ss.str();
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(test::count_occurrences(html, "<tr class=\"") == e.goals.size());
  CHECK(html.find("<tr class=\"fail\"><td class=\"l\">Femur_Head_L") != std::string::npos);
  CHECK(html.find("<tr class=\"ideal\"><td class=\"l\">PTV &lt;60&gt;") != std::string::npos);
  CHECK(html.find("pass rate 97.50%") != std::string::npos);
  CHECK(nlohmann::json::parse(std::ifstream(dir + "/summary.json"))["goals"].size() == e.goals.size());
  std::ifstream svg_in(dir + "/dvh.svg");
  CHECK(svg_in.good());
}
