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
