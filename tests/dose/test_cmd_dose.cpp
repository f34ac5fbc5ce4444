// End-to-end: `vmatplan dose` on a small synthetic pelvis (image folder) and a plan file
// gives the same dose image as the engine called in-process; bad input leaves no output.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "test_support.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/nifti_patient.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/io/rtplan_writer.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

CATCH_TEST_CASE("cli: vmatplan dose writes the engine's dose image", "[dose][cli]") {
  namespace fs = std::filesystem;
  const std::string dir = test::scratch_dir("cmd_dose");
  PelvisPhantomOptions po;
  po.seed = 3;
  po.spacing_mm = {4.0, 4.0, 5.0};
  Patient patient = make_pelvis_phantom(po);
  fs::create_directories(dir + "/patient");
  write_image_folder_patient(patient, dir + "/patient");

  Machine machine = Machine::load_named("generic_6mv_mlc120");
  PlanFile plan;
  plan.machine_name = "generic_6mv_mlc120";
  plan.geometry.patient_position = patient.identity.patient_position;
  plan.geometry.isocenter_mm = mask_centroid_mm(patient.find_structure("PTV")->mask);
  Beam beam;
  beam.name = "Beam 1";
  for (double g : {0.0, 90.0, 180.0, 270.0}) beam.control_points.push_back({g, 0.0, 0.0});
  plan.geometry.beams.push_back(beam);
  plan.fluence.grid = FluenceGrid::covering(machine.mlc, -40, 40, -40, 40, 5.0);
  plan.fluence.control_point_count = 4;
  plan.fluence.values.assign(4 * plan.fluence.grid.size_per_control_point(), 50.0f);
  save_plan(plan, dir + "/plan.json");

  auto r = test::run_cli("dose --patient '" + dir + "/patient' --plan '" + dir +
                         "/plan.json' --out '" + dir + "/dose.nii.gz' --spacing 5");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  CtImage written = read_image_float(dir + "/dose.nii.gz");

  DoseEngineOptions opt;
  opt.dose_spacing_mm = 5.0;
  // The CT was stored as int16 HU: compare with the engine on the patient as reloaded.
  Patient reloaded = load_patient(dir + "/patient");
  PencilBeamEngine engine(reloaded, machine, plan.geometry, plan.fluence.grid, opt);
  Image3D<float> expected = engine.dose_image(plan.fluence);
  CATCH_REQUIRE(written.grid.same_geometry(expected.grid, 1e-3));
  float max = 0, diff = 0;
  for (size_t i = 0; i < expected.voxels.size(); ++i) {
    max = std::max(max, expected.voxels[i]);
    diff = std::max(diff, std::abs(expected.voxels[i] - written.voxels[i]));
  }
  // 4 x 50 MU of an 8x8 cm field: about 2 Gy at the isocentre.
  CATCH_CHECK(max > 1.0f);
  CATCH_CHECK(max < 4.0f);
  CATCH_CHECK(diff <= 1e-5f * max);

  // A bad extension is a usage error, a missing plan an input error; neither writes.
  auto bad = test::run_cli("dose --patient '" + dir + "/patient' --plan '" + dir +
                           "/plan.json' --out '" + dir + "/dose.txt'");
  CATCH_CHECK(bad.exit_code == 2);
  auto missing = test::run_cli("dose --patient '" + dir + "/patient' --plan '" + dir +
                               "/nope.json' --out '" + dir + "/d2.nii.gz'");
  CATCH_CHECK(missing.exit_code == 1);
  CATCH_CHECK(!fs::exists(dir + "/d2.nii.gz"));
  CATCH_CHECK(!fs::exists(dir + "/dose.txt"));
}

// A plan made elsewhere with coarse control points (here 15 deg apart, as matRad's 25-point
// arcs): `dose --plan RP.dcm` integrates each interval in sub-arcs (default 2 deg), so the
// dose matches a finely sampled delivery; taken at the control points only it has spokes.
CATCH_TEST_CASE("cli: dose --plan RP.dcm integrates coarse arcs in sub-arcs", "[dose][cli][rtplan]") {
  namespace fs = std::filesystem;
  const std::string dir = test::scratch_dir("cmd_dose_subarc");
  std::string patient_dir;
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 4, &patient_dir).exit_code == 0);
  const Patient patient = load_patient(patient_dir);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");

  DeliveryPlan plan;
  plan.identity = patient.identity;
  plan.fractions = 1;
  DeliveryBeam b;
  b.number = 1;
  b.name = "Arc";
  b.machine_name = machine.dicom_name;
  b.isocenter_mm = mask_centroid_mm(patient.find_structure("PTV")->mask);
  b.meterset_mu = 240;
  b.leaf_boundaries_mm = machine.mlc.leaf_boundaries_mm;
  const int pairs = b.pair_count();
  for (int c = 0; c <= 24; ++c) {  // 360 deg in 24 intervals of 15 deg, a 3 x 3 cm opening
    DeliveryControlPoint cp;
    cp.gantry_deg = std::fmod(180.0 + 15.0 * c, 360.0);
    cp.gantry_direction = RotationDirection::kClockwise;
    cp.x1_mm = -15, cp.x2_mm = 15, cp.y1_mm = -15, cp.y2_mm = 15;
    cp.leaf_x1_mm.assign(pairs, 0.0);
    cp.leaf_x2_mm.assign(pairs, 0.0);
    for (int p = 0; p < pairs; ++p)
      if (b.leaf_boundaries_mm[p] >= -15 && b.leaf_boundaries_mm[p + 1] <= 15)
        cp.leaf_x1_mm[p] = -15, cp.leaf_x2_mm[p] = 15;
    cp.cumulative_meterset_weight = c / 24.0;
    b.control_points.push_back(cp);
  }
  plan.beams.push_back(b);
  write_rtplan(plan, dir + "/RP.dcm");

  auto dose_with = [&](const std::string& step_flag, const std::string& name) {
    auto r = test::run_cli("dose --patient '" + patient_dir + "' --plan '" + dir + "/RP.dcm' --out '" + dir +
                           "/" + name + ".nii.gz' --spacing 8 " + step_flag);
    CATCH_INFO(r.err);
    CATCH_REQUIRE(r.exit_code == 0);
    return read_image_float(dir + "/" + name + ".nii.gz");
  };
  const auto fine = dose_with("--arc-step 1", "fine");
  const auto by_default = dose_with("", "default");
  const auto at_cps = dose_with("--arc-step 15", "cps");
  GammaOptions g;
  g.dose_criterion_pct = 2.0;
  g.distance_mm = 2.0;
  const double pass_default = compute_gamma(fine, by_default, g).pass_rate_pct;
  const double pass_cps = compute_gamma(fine, at_cps, g).pass_rate_pct;
  CATCH_WARN("gamma 2%/2mm against 1 deg sub-arcs: default (2 deg) " << pass_default
                                                                      << " %, control points only " << pass_cps << " %");
  CATCH_CHECK(pass_default >= 99.0);
  CATCH_CHECK(pass_cps < pass_default - 2.0);
  // A plan whose machine matches no config: an input problem, exit 1 (README), not usage.
  DeliveryPlan odd = plan;
  odd.beams[0].machine_name = "UNKNOWN_LINAC";
  odd.beams[0].leaf_boundaries_mm = {-10, -5, 0, 5, 10};
  for (auto& cp : odd.beams[0].control_points) cp.leaf_x1_mm.assign(4, -5.0), cp.leaf_x2_mm.assign(4, 5.0);
  write_rtplan(odd, dir + "/RP_odd.dcm");
  auto r = test::run_cli("dose --patient '" + patient_dir + "' --plan '" + dir + "/RP_odd.dcm' --out '" + dir +
                         "/odd.nii.gz' --spacing 5");
  CATCH_CHECK(r.exit_code == 1);
  CATCH_CHECK(r.err.find("UNKNOWN_LINAC") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir + "/odd.nii.gz"));
}
