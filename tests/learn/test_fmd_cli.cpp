// End to end: `vmatplan train fmd-teacher`, `train fmd-student`, `train fmd-regression`
// (smoke sizes) and `generate --generator fmd | fmd-regression` with those weights on a tiny
// phantom, the open-field baseline normalised by `generate`; a missing model is one line
// naming the file.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "fmd_test_data.h"
#include "test_support.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/sha256.h"

using namespace vmatplan;
namespace fs = std::filesystem;

CATCH_TEST_CASE("cli: train fmd-teacher, fmd-student, then generate --generator fmd", "[learn][fmd][cli]") {
  const std::string dir = test::scratch_dir("fmd_cli");
  const std::string data = test::write_synthetic_training_set(dir + "/data", 2, 300);
  const std::string smoke = " --threads 1 --epochs 1 --batch 2 --window 4 --steps-per-epoch 3 --val-windows 2";
  auto r = test::run_cli("train fmd-teacher --data " + data + " --val-data " + data + " --out " + dir +
                         "/teacher --width 8" + smoke);
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.err.find("ETA") != std::string::npos);
  r = test::run_cli("train fmd-student --data " + data + " --teacher " + dir + "/teacher --out " + dir + "/fmd" +
                    smoke + " --fake-updates 2");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  const nlohmann::json manifest = read_json_file(dir + "/fmd/manifest.json");
  CATCH_CHECK(manifest["networks"]["student"]["training"]["command"].get<std::string>().rfind(
                  "vmatplan train fmd-student --data", 0) == 0);

  std::string patient;
  r = test::make_tiny_phantom(dir, 7, &patient);
  CATCH_REQUIRE(r.exit_code == 0);
  r = test::run_cli("--threads 1 generate --patient " + patient + test::kCoarsePlanFlags +
                    " --generator fmd --fmd-seed 3 --weights " + dir + "/fmd --out " + dir + "/plan");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  const nlohmann::json s = read_json_file(dir + "/plan/summary.json");
  CATCH_CHECK(s["fluence_stage"]["generator"] == "fmd");
  CATCH_CHECK(s["fluence_stage"]["weights_sha256"] == sha256_file_hex(dir + "/fmd/student.safetensors"));
  CATCH_CHECK(s["fluence_stage"]["generation_seconds"].get<double>() > 0);
  CATCH_CHECK(s["plan"]["deliverability_violations"] == 0);

  // The regression baseline: its own model folder, one evaluation per arc, no seed.
  r = test::run_cli("train fmd-regression --data " + data + " --val-data " + data + " --out " + dir +
                    "/regression --width 8" + smoke);
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(read_json_file(dir + "/regression/manifest.json")["networks"]["regression"]["training"]["command"]
                  .get<std::string>()
                  .rfind("vmatplan train fmd-regression --data", 0) == 0);
  r = test::run_cli("--threads 1 generate --patient " + patient + test::kCoarsePlanFlags +
                    " --generator fmd-regression --weights " + dir + "/regression --out " + dir + "/plan_regression");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  const nlohmann::json g = read_json_file(dir + "/plan_regression/summary.json")["fluence_stage"];
  CATCH_CHECK(g["generator"] == "fmd-regression");
  CATCH_CHECK(g["weights_sha256"] == sha256_file_hex(dir + "/regression/regression.safetensors"));
  CATCH_CHECK(g["network_evaluations_per_arc"] == 1);
  CATCH_CHECK(g["fmd_seed"].is_null());

  // The open field, without the meterset stage: normalised in the fluence stage, it stays
  // near the protocol's normalisation through sequencing and the final dose (here 3 % under
  // it on the 10 mm grids; unnormalised, x = 1, it would be about 40 % under).
  r = test::run_cli("--threads 1 generate --patient " + patient + test::kCoarsePlanFlags +
                    " --generator open-field --no-meterset --out " + dir + "/plan_open");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  const nlohmann::json o = read_json_file(dir + "/plan_open/summary.json");
  CATCH_CHECK(o["fluence_stage"]["generator"] == "open-field");
  CATCH_CHECK(o["fluence_stage"]["open_bixels"].get<int>() > 0);
  const nlohmann::json& norm = o["prescription"]["normalisation"];
  CATCH_CHECK(norm["planned_gy"].get<double>() == Approx(norm["value_gy"].get<double>()).epsilon(0.05));
  CATCH_CHECK(o["plan"]["deliverability_violations"] == 0);

  // No model: one line naming the manifest the generator looked for.
  r = test::run_cli("--threads 1 generate --patient " + patient + test::kCoarsePlanFlags +
                    " --generator fmd-teacher --weights " + dir + "/none --out " + dir + "/plan2");
  CATCH_CHECK(r.exit_code == 1);
  CATCH_CHECK_THAT(r.err, Catch::EndsWith("\nvmatplan: error: " + dir +
                                          "/none/manifest.json: no FMD model here (train one: docs/fmd.md, "
                                          "or pass --weights DIR)\n"));
  CATCH_CHECK(!fs::exists(dir + "/plan2"));
}
