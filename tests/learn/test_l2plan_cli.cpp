// The refiners through the CLI: `generate --refiner pgd` records its run in summary.json,
// `--refiner l2plan` without a model and malformed flags fail with one line.
#include <torch/torch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vmatplan/core/config_path.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/learn/l2plan_training.h"

using namespace vmatplan;

namespace {

// The fluence stage's record of the refiner, wherever summary.json keeps it.
const nlohmann::json* find_key(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return nullptr;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == key) return &it.value();
    if (const nlohmann::json* f = find_key(it.value(), key)) return f;
  }
  return nullptr;
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

CATCH_TEST_CASE("generate --refiner pgd / l2plan through the CLI", "[learn][l2plan][cli]") {
  const std::string dir = test::scratch_dir("l2plan_cli");
  std::string patient;
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 6, &patient).exit_code == 0);
  const std::string base = "--threads 1 generate --patient " + patient + test::kCoarsePlanFlags;

  const test::CommandResult ok =
      test::run_cli(base + " --out " + dir + "/pgd --refiner pgd --refine-steps 3 --objective-weight rectum=2");
  CATCH_REQUIRE(ok.exit_code == 0);
  std::ifstream f(dir + "/pgd/summary.json");
  const nlohmann::json summary = nlohmann::json::parse(f);
  const nlohmann::json* refine = find_key(summary, "refine");
  CATCH_REQUIRE(refine != nullptr);
  CATCH_CHECK((*refine)["refiner"] == "pgd");
  CATCH_CHECK((*refine)["objective_trace"].size() == 4);
  CATCH_CHECK((*refine)["objective_final_engine"].get<double>() <= (*refine)["objective_start"].get<double>());
  // On the engine the record is the trace's own first and last value.
  CATCH_CHECK((*refine)["objective_start"].get<double>() == (*refine)["objective_trace"].front().get<double>());
  CATCH_CHECK((*refine)["objective_final_engine"].get<double>() == (*refine)["objective_trace"].back().get<double>());
  // On the predictor the record is still the engine's objective: the same start value.
  const test::CommandResult pred = test::run_cli(base + " --out " + dir +
                                                 "/pred --refiner pgd --refine-steps 3 --objective-weight rectum=2 --refine-dose predictor");
  CATCH_REQUIRE(pred.exit_code == 0);
  const nlohmann::json pred_summary = read_json_file(dir + "/pred/summary.json");
  const nlohmann::json* pred_refine = find_key(pred_summary, "refine");
  CATCH_REQUIRE(pred_refine != nullptr);
  CATCH_CHECK((*pred_refine)["objective_start"].get<double>() == Approx((*refine)["objective_start"].get<double>()).epsilon(1e-9));
  CATCH_CHECK((*pred_refine)["objective_trace"].front().get<double>() != (*refine)["objective_start"].get<double>());

  const test::CommandResult no_model =
      test::run_cli(base + " --out " + dir + "/l2 --refiner l2plan --l2plan-model " + dir + "/nomodel");
  CATCH_CHECK(no_model.exit_code == 1);
  CATCH_CHECK(no_model.err.find("nomodel/manifest.json") != std::string::npos);
  CATCH_CHECK(lines(no_model.err) == 1);

  const test::CommandResult bad = test::run_cli(base + " --out " + dir + "/bad --refiner adam --objective-weight rectum");
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.err.find("--objective-weight") != std::string::npos);

  const test::CommandResult no_data = test::run_cli("--threads 1 train l2plan --out " + dir + "/train");
  CATCH_CHECK(no_data.exit_code == 2);
  CATCH_CHECK(no_data.err.find("no training patients") != std::string::npos);
}

// Re-planning (issue 13): every plan folder keeps its fluence before sequencing, and
// `generate --from` refines it for changed objectives. The weighted rectum term makes the
// start's objective larger than under the plan's own protocol, and the refiner lowers it.
CATCH_TEST_CASE("generate --from re-plans an earlier plan with a changed objective", "[learn][l2plan][cli]") {
  const std::string dir = test::scratch_dir("replan_cli");
  std::string patient, other;
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 6, &patient).exit_code == 0);
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 7, &other).exit_code == 0);
  const std::string base = "--threads 1 generate --patient " + patient + test::kCoarsePlanFlags;
  // The classical optimiser's fluence: its rectum terms are active at the coarse test
  // grid (the FMD student's start leaves the rectum under every limit here, so a rectum
  // weight would not change its objective).
  CATCH_REQUIRE(test::run_cli(base + " --generator classical --out " + dir + "/first").exit_code == 0);
  CATCH_REQUIRE(std::ifstream(dir + "/first/fluence.json").good());

  // The earlier plan's arcs and bixels are kept (--arcs and --bixel are refused with --from).
  const std::string replan = "--threads 1 generate --patient " + patient +
                             " --dose-spacing 10 --final-dose-spacing 10 --dao-iter 5 --from " + dir + "/first";
  auto refine_record = [&](const std::string& out, const std::string& flags) {
    const test::CommandResult r = test::run_cli(replan + " --out " + out + flags);
    CATCH_REQUIRE(r.exit_code == 0);
    std::ifstream f(out + "/summary.json");
    const nlohmann::json summary = nlohmann::json::parse(f);
    CATCH_CHECK(summary["fluence_stage"]["generator"] == "plan");
    const nlohmann::json* refine = find_key(summary, "refine");
    CATCH_REQUIRE(refine != nullptr);
    CATCH_CHECK((*refine)["refiner"] == "lbfgs");  // --from's default refiner
    return *refine;
  };
  const nlohmann::json same = refine_record(dir + "/same", " --refine-steps 4");
  const nlohmann::json rectum4 = refine_record(dir + "/rectum4", " --refine-steps 4 --objective-weight rectum=4");
  CATCH_CHECK(rectum4["objective_start"].get<double>() > same["objective_start"].get<double>());
  CATCH_CHECK(rectum4["objective_final_engine"].get<double>() < rectum4["objective_start"].get<double>());

  // Refusals: one line naming the file, nothing written.
  const test::CommandResult delivery = test::run_cli("--threads 1 generate --patient " + patient + " --out " + dir +
                                                     "/bad1 --from " + dir + "/first/plan.json");
  CATCH_CHECK(delivery.exit_code == 1);
  CATCH_CHECK(delivery.err.find("plan.json: not a fluence plan") != std::string::npos);
  CATCH_CHECK(lines(delivery.err) == 1);
  const test::CommandResult wrong_patient =
      test::run_cli("--threads 1 generate --patient " + other + " --out " + dir + "/bad2 --from " + dir + "/first");
  CATCH_CHECK(wrong_patient.exit_code == 1);
  CATCH_CHECK(wrong_patient.err.find("fluence.json: made for patient") != std::string::npos);
  const test::CommandResult both = test::run_cli(replan + " --out " + dir + "/bad3 --generator classical");
  CATCH_CHECK(both.exit_code == 2);
  for (const char* bad : {"/bad1", "/bad2", "/bad3"}) CATCH_CHECK_FALSE(std::ifstream(dir + bad + "/summary.json").good());
}

CATCH_TEST_CASE("train l2plan --start fmd: a smoke epoch from the FMD student's fluence", "[learn][l2plan][cli]") {
  const std::string dir = test::scratch_dir("l2plan_fmd_start");
  std::string patient;
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 4, &patient).exit_code == 0);
  const std::string base = "--threads 1 train l2plan --patients " + patient +
                           " --epochs 1 --steps 2 --unroll 2 --hidden 4 --bixel 10 --dose-spacing 10 --arc-spacing 30";
  // With the quasi-Newton term, as the shipped model.
  const test::CommandResult r = test::run_cli(base + " --out " + dir + "/fmd --start fmd --seed 3 --qn-memory 3");
  CATCH_REQUIRE(r.exit_code == 0);
  const nlohmann::json m = read_json_file(dir + "/fmd/manifest.json");
  const nlohmann::json& run = m["training"]["run"];
  CATCH_CHECK(run["architecture"]["qn_memory"] == 3);
  CATCH_CHECK(run["architecture"]["features"] == 10);
  CATCH_CHECK(load_l2plan_model(dir + "/fmd").arch.qn_memory == 3);
  CATCH_CHECK(run["start"] == "fmd");
  CATCH_CHECK(run["start_noise"].get<double>() == 0.1);
  CATCH_CHECK(run["start_info"]["fmd_student_sha256"] == sha256_file_hex(model_dir("fmd") + "/student.safetensors"));
  CATCH_REQUIRE(m["metrics"]["epoch_meta_loss"].size() == 1);
  CATCH_CHECK(std::isfinite(m["metrics"]["epoch_meta_loss"][0].get<double>()));

  const test::CommandResult bad = test::run_cli(base + " --out " + dir + "/bad --start noisy");
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.err.find("--start") != std::string::npos);
  CATCH_CHECK(lines(bad.err) == 1);
}
