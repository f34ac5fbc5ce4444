#include <catch2/catch.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <fstream>

#include "sequence/synthetic_plan.h"
#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/rtplan_reader.h"
#include "vmatplan/io/rtplan_validator.h"
#include "vmatplan/io/rtplan_writer.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/deliverability.h"

using namespace vmatplan;

namespace {

void check_same(const DeliveryPlan& a, const DeliveryPlan& b) {
  REQUIRE(a.beams.size() == b.beams.size());
  CHECK(a.fractions == b.fractions);
  for (size_t i = 0; i < a.beams.size(); ++i) {
    const auto& x = a.beams[i];
    const auto& y = b.beams[i];
    INFO("beam " << x.number);
    CHECK(x.number == y.number);
    CHECK(x.name == y.name);
    CHECK(x.machine_name == y.machine_name);
    CHECK(x.meterset_mu == y.meterset_mu);
    CHECK(x.energy_mv == y.energy_mv);
    CHECK(x.dose_rate_mu_per_min == y.dose_rate_mu_per_min);
    CHECK(x.final_cumulative_meterset_weight == y.final_cumulative_meterset_weight);
    CHECK(x.leaf_boundaries_mm == y.leaf_boundaries_mm);
    CHECK(x.x_jaw_type == y.x_jaw_type);
    CHECK(x.y_jaw_type == y.y_jaw_type);
    CHECK(x.isocenter_mm == y.isocenter_mm);
    REQUIRE(x.control_points.size() == y.control_points.size());
    for (size_t c = 0; c < x.control_points.size(); ++c) {
      const auto& p = x.control_points[c];
      const auto& q = y.control_points[c];
      INFO("cp " << c);
      CHECK(p.gantry_deg == q.gantry_deg);
      CHECK(p.gantry_direction == q.gantry_direction);
      CHECK(p.collimator_deg == q.collimator_deg);
      CHECK(p.couch_deg == q.couch_deg);
      CHECK((p.x1_mm == q.x1_mm && p.x2_mm == q.x2_mm && p.y1_mm == q.y1_mm && p.y2_mm == q.y2_mm));
      CHECK(p.leaf_x1_mm == q.leaf_x1_mm);
      CHECK(p.leaf_x2_mm == q.leaf_x2_mm);
      CHECK(p.cumulative_meterset_weight == q.cumulative_meterset_weight);
    }
  }
}

void check_rtplan_dciodvfy(const std::string& file) {
  if (!test::have_program("dciodvfy")) {
    WARN("skipped: dciodvfy not installed");
    return;
  }
  auto r = test::run_shell("dciodvfy '" + file + "'");
  INFO((r.out + r.err));
  CHECK((r.out + r.err).find("Error") == std::string::npos);
}

}  // namespace

TEST_CASE("real RT Plans load and survive a read-write-read round trip", "[io][rtplan]") {
  struct Case { const char* file; size_t beams; size_t cps0; int pairs; bool x_jaws; double mu0; };
  const Case cases[] = {
      {"dicom/pymedphys/RP.almost_anonymised.dcm", 1, 90, 60, true, 393.0},
      {"dicom/pymedphys/RP_endometrium_9field_dMLC_monaco.dcm", 9, 0, 80, false, 0},
      {"dicom/pymedphys/06MV_plan.dcm", 10, 2, 80, false, 1000.0},
      {"dicom/dicompyler-core/rtplan.dcm", 4, 0, 60, true, 0},
      {"dicom/pydicom/rtplan.dcm", 1, 2, 0, true, 0},
  };
  const std::string dir = test::scratch_dir("rtplan_roundtrip");
  for (const auto& c : cases) {
    const std::string f = test::data_file(c.file);
    if (f.empty()) {
      WARN("skipped: " << c.file << " not found");
      continue;
    }
    INFO(c.file);
    const DeliveryPlan a = read_rtplan(f);
    CHECK(a.beams.size() == c.beams);
    if (c.cps0) CHECK(a.beams[0].control_points.size() == c.cps0);
    CHECK(a.beams[0].pair_count() == c.pairs);
    CHECK(!a.beams[0].x_jaw_type.empty() == c.x_jaws);
    if (c.mu0 > 0) CHECK(a.beams[0].meterset_mu == Approx(c.mu0));
    for (const auto& b : a.beams)
      for (const auto& cp : b.control_points) CHECK(static_cast<int>(cp.leaf_x1_mm.size()) == b.pair_count());
    const std::string out = dir + "/" + std::to_string(&c - cases) + ".dcm";
    write_rtplan(a, out);
    check_same(a, read_rtplan(out));
    CHECK(validate_rtplan_file(out).empty());
  }
}

TEST_CASE("the Varian arc keeps its first control point values", "[io][rtplan]") {
  const std::string f = test::data_file("dicom/pymedphys/RP.almost_anonymised.dcm");
  VMATPLAN_SKIP_IF_EMPTY(f, "pymedphys RP.almost_anonymised.dcm");
  const DeliveryPlan p = read_rtplan(f);
  const auto& b = p.beams[0];
  CHECK(b.machine_name == "TS2_TBHD");
  CHECK(b.energy_mv == 6);
  CHECK(b.dose_rate_mu_per_min == 600);
  const auto& cp0 = b.control_points[0];
  CHECK(cp0.gantry_deg == 178);
  CHECK(cp0.gantry_direction == RotationDirection::kCounterClockwise);
  CHECK(cp0.collimator_deg == 15);
  CHECK((cp0.x1_mm == -59 && cp0.x2_mm == 71 && cp0.y1_mm == -35 && cp0.y2_mm == 60));
  CHECK(cp0.leaf_x1_mm[16] == Approx(6.9));  // 17th value of LeafJawPositions
  CHECK(b.control_points[1].gantry_deg == 174);
  CHECK(b.control_points[1].x1_mm == -59);   // carried forward
  CHECK(b.isocenter_mm[0] == Approx(20.1344));
}

TEST_CASE("an exported sequenced plan passes dciodvfy, the validator, the checker and pydicom",
          "[io][rtplan]") {
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  const PlanFile in = test::synthetic_fluence_plan(m, 2, test::FluenceShape::kBlob);
  DeliveryPlan plan = sequence_arcs(in, m, {}).plan;
  plan.identity.patient_id = "SEQ1";
  plan.identity.patient_name = "Test^Sequence";
  plan.identity.structure_set_sop_instance_uid = "1.2.3.4.5";
  const std::string file = test::scratch_dir("rtplan_export") + "/RP.dcm";
  const std::string uid = write_rtplan(plan, file);
  CHECK(!uid.empty());
  check_rtplan_dciodvfy(file);
  const auto problems = validate_rtplan_file(file);
  INFO((problems.empty() ? std::string() : problems.front()));
  CHECK(problems.empty());
  const DeliveryPlan back = read_rtplan(file);
  CHECK(check_deliverability(back, m).empty());
  CHECK(back.identity.structure_set_sop_instance_uid == "1.2.3.4.5");
  CHECK(back.beams[0].meterset_mu == Approx(plan.beams[0].meterset_mu).epsilon(1e-12));
  if (test::have_program("/usr/bin/python3")) {
    auto r = test::run_shell(
        "/usr/bin/python3 -c \"import pydicom; d = pydicom.dcmread('" + file + "'); "
        "b = d.BeamSequence[0]; print(len(d.BeamSequence), b.NumberOfControlPoints, "
        "len(b.ControlPointSequence), len(b.ControlPointSequence[0].BeamLimitingDevicePositionSequence[2].LeafJawPositions), "
        "d.FractionGroupSequence[0].ReferencedBeamSequence[0].BeamMeterset > 0)\"");
    INFO(r.err);
    const size_t n = plan.beams[0].control_points.size();
    CHECK(r.out == "2 " + std::to_string(n) + " " + std::to_string(n) + " 120 True\n");
  }
}

TEST_CASE("the validator reports what dciodvfy does not check", "[io][rtplan]") {
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  DeliveryPlan plan = sequence_arcs(test::synthetic_fluence_plan(m, 1, test::FluenceShape::kBlob), m, {}).plan;
  plan.beams[0].control_points[5].cumulative_meterset_weight = 0.0;  // decreases
  plan.beams[0].final_cumulative_meterset_weight = 2.0;              // last weight is 1
  const std::string file = test::scratch_dir("rtplan_bad") + "/RP.dcm";
  write_rtplan(plan, file);
  const auto problems = validate_rtplan_file(file);
  auto has = [&](const std::string& s) {
    for (const auto& p : problems)
      if (p.find(s) != std::string::npos) return true;
    return false;
  };
  CHECK(has("cp 5: CumulativeMetersetWeight decreases"));
  CHECK(has("differs from FinalCumulativeMetersetWeight"));
  CHECK_THROWS_AS(read_rtplan(test::scratch_dir("rtplan_none") + "/missing.dcm"), InputError);
}

TEST_CASE("Decimal String values with spaces around them read back as their numbers", "[io][rtplan]") {
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  const DeliveryPlan plan =
      sequence_arcs(test::synthetic_fluence_plan(m, 1, test::FluenceShape::kBlob), m, {}).plan;
  const std::string file = test::scratch_dir("rtplan_padded") + "/RP.dcm";
  write_rtplan(plan, file);
  const DeliveryPlan before = read_rtplan(file);  // positions as their 16-character texts
  {
    // PS3.5 6.2: DS values may carry leading and trailing spaces.
    DcmFileFormat ff;
    REQUIRE(ff.loadFile(file.c_str()).good());
    DcmItem* beam = nullptr;
    DcmItem* cp = nullptr;
    REQUIRE(ff.getDataset()->findAndGetSequenceItem(DCM_BeamSequence, beam, 0).good());
    REQUIRE(beam->findAndGetSequenceItem(DCM_ControlPointSequence, cp, 0).good());
    REQUIRE(cp->putAndInsertString(DCM_IsocenterPosition, " 1.5 \\-2\\ 3e1 ").good());
    REQUIRE(ff.saveFile(file.c_str(), EXS_LittleEndianExplicit).good());
  }
  const DeliveryPlan back = read_rtplan(file);
  CHECK(back.beams[0].isocenter_mm == Vec3{1.5, -2.0, 30.0});
  CHECK(back.beams[0].leaf_boundaries_mm == before.beams[0].leaf_boundaries_mm);
  CHECK(back.beams[0].control_points[0].leaf_x1_mm == before.beams[0].control_points[0].leaf_x1_mm);
  CHECK(back.beams[0].control_points[0].leaf_x2_mm == before.beams[0].control_points[0].leaf_x2_mm);
  CHECK(validate_rtplan_file(file).empty());
}
