// RT Dose in: `evaluate` and `compare` on the Eclipse prostate phantom's own RD.dcm, checked
// against Eclipse's DVH table; wrong-patient doses refused; compare's usage errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/rtdose_writer.h"
#include "vmatplan/patient/structure_roles.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

// Mean dose per structure from Eclipse's cumulative DVH table (integral of the curve).
std::map<std::string, double> eclipse_means(const std::string& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  {
    std::stringstream ss(line);
    std::string cell;
    for (int c = 0; std::getline(ss, cell, ','); ++c)
      if (c % 2 == 0) names.push_back(StructureRoles::normalize(cell.substr(0, cell.find("_DvhArray"))));
  }
  std::vector<std::vector<double>> cols(2 * names.size());
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell;
    for (size_t c = 0; std::getline(ss, cell, ',') && c < cols.size(); ++c) cols[c].push_back(std::stod(cell));
  }
  std::map<std::string, double> out;
  for (size_t s = 0; s < names.size(); ++s) {
    const auto &d = cols[2 * s], &v = cols[2 * s + 1];
    double m = 0;
    for (size_t i = 1; i < d.size() && i < v.size(); ++i) m += 0.5 * (v[i] + v[i - 1]) / 100.0 * (d[i] - d[i - 1]);
    out[names[s]] = m;
  }
  return out;
}

}  // namespace

TEST_CASE("evaluate --dose RD.dcm: the Eclipse phantom's RT Dose against its DVH table",
          "[cli][evaluate][rtdose][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string out = test::scratch_dir("cli_evaluate_rtdose") + "/report";
  auto r = test::run_cli("evaluate --patient '" + dir + "/dicom' --dose '" + dir + "/dicom/RD.dcm' --out '" +
                         out + "' --json");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  const auto ref = eclipse_means(dir + "/EclipseProstate_DvhTable_Eclipse.csv");
  REQUIRE(j["structures"].size() == 6);
  for (const auto& s : j["structures"]) {
    const std::string name = s["name"];
    const auto it = ref.find(StructureRoles::normalize(name));
    REQUIRE(it != ref.end());
    const double mean = s["mean_gy"];
    INFO(name << ": mean " << mean << " Gy, Eclipse " << it->second << " Gy");
    // The tolerance of test_eclipse_validation.cpp (the NRRD dose): 0.1 Gy or 1 %.
    CHECK(std::abs(mean - it->second) < std::max(0.1, 0.01 * it->second));
  }
  for (const char* f : {"summary.json", "dvh.svg", "report.html", "dose_axial_target.svg", "dose_coronal_max.svg"})
    CHECK(fs::exists(out + "/" + f));
}

TEST_CASE("compare: Eclipse RD.dcm against the same dose as NRRD", "[cli][compare][rtdose][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string out = test::scratch_dir("cli_compare") + "/cmp";
  auto r = test::run_cli("compare --patient '" + dir + "/dicom' --dose '" + dir + "/dicom/RD.dcm' --dose '" + dir +
                         "/EclipseProstate_Dose.nrrd' --label Eclipse --label NRRD --out '" + out + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(std::ifstream(out + "/compare.json"));
  CHECK(j["labels"] == nlohmann::json{"Eclipse", "NRRD"});
  REQUIRE(j["gamma"].size() == 1);
  CHECK(j["gamma"][0]["pass_rate_pct"] == 100.0);  // the same dose, 16-bit quantised
  CHECK(j["gamma"][0]["reference"] == "Eclipse");
  for (const auto& m : j["metrics"]) CHECK(m["mean_gy"][0].get<double>() == Approx(m["mean_gy"][1].get<double>()).margin(0.001));
  for (const auto& g : j["goals"]) CHECK(g["statuses"][0] == g["statuses"][1]);
  CHECK(r.out.find("gamma NRRD vs Eclipse: pass rate 100") != std::string::npos);
  std::ifstream in(out + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(html.find("Dose distribution: Eclipse") != std::string::npos);
  CHECK(html.find("Dose distribution: NRRD") != std::string::npos);
  CHECK(fs::exists(out + "/Eclipse_dose_axial_target.svg"));
  CHECK(fs::exists(out + "/NRRD_dose_sagittal_max.svg"));
  const std::string svg = [&] {
    std::ifstream s(out + "/dvh.svg");
    return std::string((std::istreambuf_iterator<char>(s)), std::istreambuf_iterator<char>());
  }();
  CHECK(svg.find("stroke-dasharray=\"8,4\"") != std::string::npos);  // the second dose dashed
}

TEST_CASE("compare and evaluate refuse wrong input with the right exit code", "[cli][compare][rtdose]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string scratch = test::scratch_dir("cli_compare_errors");
  const std::string rd = "'" + dir + "/dicom/RD.dcm'";
  // One dose only, or labels that do not match the doses: usage errors.
  auto r = test::run_cli("compare --patient '" + dir + "/dicom' --dose " + rd + " --out " + scratch + "/a");
  CHECK(r.exit_code == 2);
  r = test::run_cli("compare --patient '" + dir + "/dicom' --dose " + rd + " --dose " + rd +
                    " --label x --out " + scratch + "/b");
  CHECK(r.exit_code == 2);
  // An RT Dose of another image set (frame of reference differs): input error, exit 1,
  // unless --allow-other-frame.
  {
    DeliveryPlan other;
    other.sop_instance_uid = "1.2.826.0.1.3680043.2.1125.7";
    other.identity.frame_of_reference_uid = "1.2.826.0.1.3680043.2.1125.8";
    write_rtdose(read_image_float(dir + "/EclipseProstate_Dose.nrrd"), other, scratch + "/RD_other.dcm");
  }
  r = test::run_cli("evaluate --patient '" + dir + "/dicom' --dose " + scratch + "/RD_other.dcm --out " + scratch + "/c");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("frame of reference") != std::string::npos);
  CHECK(r.err.find("RD_other.dcm") != std::string::npos);
  // An RT Plan given as a dose.
  const std::string plan = test::data_file("dicom/pymedphys/06MV_plan.dcm");
  if (!plan.empty()) {
    r = test::run_cli("evaluate --patient '" + dir + "/dicom' --dose '" + plan + "' --out " + scratch + "/d");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("not an RT Dose") != std::string::npos);
  }
  int entries = 0;
  for (const auto& e : fs::directory_iterator(scratch)) entries += e.is_directory();
  CHECK(entries == 0);
}

// The report as a browser shows it: headless Chromium renders report.html to a PNG (the
// dose pictures are inline SVG with embedded PNG rasters). Skipped without chromium.
TEST_CASE("report.html renders in headless Chromium", "[cli][evaluate][chromium][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  if (!test::have_program("chromium")) {
    WARN("skipped: chromium not installed (apt-get install chromium)");
    return;
  }
  const std::string scratch = test::scratch_dir("cli_report_chromium");
  auto r = test::run_cli("evaluate --patient '" + dir + "/dicom' --dose '" + dir + "/dicom/RD.dcm' --protocol prostate_36p25gy_5fx --out '" +
                         scratch + "/report'");
  REQUIRE(r.exit_code == 0);
  const std::string png = scratch + "/report.png";
  auto c = test::run_shell("timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                           "--user-data-dir=" + scratch + "/chromium-profile --screenshot=" + png +
                           " --window-size=1280,2400 'file://" + scratch + "/report/report.html'");
  INFO(c.out << c.err);
  REQUIRE(fs::exists(png));
  std::ifstream f(png, std::ios::binary);
  unsigned char h[24] = {};
  f.read(reinterpret_cast<char*>(h), sizeof h);
  const auto be32 = [&](int o) { return (h[o] << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]; };
  CHECK(be32(16) == 1280);  // IHDR width and height
  CHECK(be32(20) == 2400);
  // A page of text and white compresses to a few tens of kB; the CT slices and colour
  // washes make it far larger.
  CHECK(fs::file_size(png) > 300000);
}
