#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sequence/synthetic_plan.h"
#include "test_support.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/rtplan_reader.h"
#include "vmatplan/io/rtplan_writer.h"

using namespace vmatplan;
using vmatplan::test::run_cli;
namespace fs = std::filesystem;

TEST_CASE("check: the Varian VMAT plan is deliverable, a corrupted copy is not", "[cli][check]") {
  const std::string f = test::data_file("dicom/pymedphys/RP.almost_anonymised.dcm");
  VMATPLAN_SKIP_IF_EMPTY(f, "pymedphys RP.almost_anonymised.dcm");
  auto r = run_cli("check '" + f + "'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("generic_6mv_hd120") != std::string::npos);
  CHECK(r.out.find("deliverable: yes") != std::string::npos);

  auto j = run_cli("check '" + f + "' --machine generic_6mv_hd120 --json");
  REQUIRE(j.exit_code == 0);
  const auto parsed = nlohmann::json::parse(j.out);
  CHECK(parsed["deliverable"] == true);
  CHECK(parsed["complexity"]["total_mu_per_fraction"].get<double>() == Approx(393));

  DeliveryPlan bad = read_rtplan(f);
  bad.beams[0].control_points[30].cumulative_meterset_weight = 0.0;
  const std::string bad_file = test::scratch_dir("cli_check") + "/RP_bad.dcm";
  write_rtplan(bad, bad_file);
  // A cumulative meterset weight that decreases is refused when the plan is read (issue 14).
  auto b = run_cli("check '" + bad_file + "' --machine generic_6mv_hd120");
  CHECK(b.exit_code == 1);
  CHECK(b.err.find(bad_file) != std::string::npos);
  CHECK(b.err.find("control point 30: cumulative meterset weight decreases") != std::string::npos);
  CHECK(b.out.empty());

  auto missing = run_cli("check /nonexistent/RP.dcm");
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("/nonexistent/RP.dcm") != std::string::npos);
}

TEST_CASE("sequence, check and export chain through files", "[cli][sequence]") {
  const std::string dir = test::scratch_dir("cli_sequence");
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  save_plan(test::synthetic_fluence_plan(m, 2, test::FluenceShape::kBlob), dir + "/plan.json");

  auto s = run_cli("sequence --plan '" + dir + "/plan.json' --out '" + dir + "/plan2.json'");
  INFO(s.out << s.err);
  REQUIRE(s.exit_code == 0);
  CHECK(fs::exists(dir + "/plan2.safetensors"));
  const PlanFile p2 = load_plan(dir + "/plan2.json");
  CHECK(p2.extra.contains("delivery"));
  CHECK(p2.fluence.control_point_count == p2.geometry.control_point_count());

  auto again = run_cli("sequence --plan '" + dir + "/plan.json' --out '" + dir + "/plan2.json'");
  CHECK(again.exit_code == 1);  // no overwrite without --overwrite

  auto c = run_cli("check '" + dir + "/plan2.json'");
  INFO(c.out << c.err);
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("deliverable: yes") != std::string::npos);

  auto bad = run_cli("sequence --plan '" + dir + "/missing.json' --out '" + dir + "/x.json'");
  CHECK(bad.exit_code == 1);
  CHECK_FALSE(fs::exists(dir + "/x.json"));

  const std::string patient = dir + "/patient";
  REQUIRE(run_cli("phantom --seed 5 --spacing 6,6,8 --out '" + patient + "'").exit_code == 0);
  auto e = run_cli("export --patient '" + patient + "' --plan '" + dir + "/plan2.json' --out '" + dir + "/dicom'");
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  const DeliveryPlan rp = read_rtplan(dir + "/dicom/RP.dcm");
  CHECK(!rp.identity.structure_set_sop_instance_uid.empty());
  auto ce = run_cli("check '" + dir + "/dicom/RP.dcm'");
  CHECK(ce.exit_code == 0);
  {
    // A delivery naming its machine by the config name (18 characters) is exported under the
    // machine's DICOM name, not the name cut to the 16 characters of TreatmentMachineName
    // ("generic_6mv_mlc1", which no machine answers to).
    std::ifstream in(dir + "/plan2.json");
    nlohmann::json delivery = nlohmann::json::parse(in)["extra"]["delivery"];
    for (auto& b : delivery["beams"]) b["machine_name"] = "generic_6mv_mlc120";
    std::ofstream(dir + "/config_name.json") << delivery.dump();
    auto en = run_cli("export --patient '" + patient + "' --plan '" + dir + "/config_name.json' --out '" +
                      dir + "/dicom_config_name'");
    INFO(en.err);
    REQUIRE(en.exit_code == 0);
    const DeliveryPlan named = read_rtplan(dir + "/dicom_config_name/RP.dcm");
    for (const auto& b : named.beams) CHECK(b.machine_name == m.dicom_name);
  }
  // The RT Plan read back and the delivery it was written from give the same dose: the
  // DICOM reader's apertures and MU against the plan file's.
  auto d_rp = run_cli("dose --patient '" + patient + "' --plan '" + dir + "/dicom/RP.dcm' --out '" +
                      dir + "/d_rp.nii.gz' --spacing 8");
  INFO(d_rp.err);
  REQUIRE(d_rp.exit_code == 0);
  REQUIRE(run_cli("dose --patient '" + patient + "' --plan '" + dir + "/plan2.json' --out '" + dir +
                  "/d_json.nii.gz' --spacing 8").exit_code == 0);
  {
    const CtImage a = read_image_float(dir + "/d_rp.nii.gz");
    const CtImage b = read_image_float(dir + "/d_json.nii.gz");
    REQUIRE(a.voxels.size() == b.voxels.size());
    float max = 0, diff = 0;
    for (size_t i = 0; i < a.voxels.size(); ++i)
      max = std::max(max, b.voxels[i]), diff = std::max(diff, std::abs(a.voxels[i] - b.voxels[i]));
    INFO("max " << max << " Gy, largest difference " << diff << " Gy");
    CHECK(max > 1.0f);
    // The RT Plan's fluence is rebuilt on 2.5 mm bixels, the plan file's is on its own 5 mm
    // grid: the partial-bixel averages differ by well under 2 % of the maximum.
    CHECK(diff <= 0.02f * max);
  }
  // With --patient the sequenced MU are re-optimised against the protocol; still deliverable.
  auto sp = run_cli("sequence --plan '" + dir + "/plan.json' --patient '" + patient + "' --out '" +
                    dir + "/plan3.json'");
  INFO(sp.out << sp.err);
  REQUIRE(sp.exit_code == 0);
  const PlanFile p3 = load_plan(dir + "/plan3.json");
  const auto& reopt = p3.extra["sequencing"]["meterset_reoptimization"];
  CHECK(reopt["status"] == "applied");
  CHECK(reopt["objective_optimized"].get<double>() <= reopt["objective_sequenced"].get<double>());
  CHECK(run_cli("check '" + dir + "/plan3.json'").exit_code == 0);
  auto sp_bad = run_cli("sequence --plan '" + dir + "/plan.json' --patient '" + dir +
                        "/no_patient' --out '" + dir + "/plan4.json'");
  CHECK(sp_bad.exit_code != 0);
  CHECK(sp_bad.err.find("no_patient") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/plan4.json"));

  auto e2 = run_cli("export --patient '" + patient + "' --plan '" + dir + "/plan.json' --out '" + dir + "/dicom2'");
  CHECK(e2.exit_code == 1);  // a fluence plan has no delivery section
  CHECK(e2.err.find("sequence") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/dicom2"));
}
