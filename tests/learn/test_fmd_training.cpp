// Smoke training of the FMD teacher, student and regression baseline on a tiny synthetic
// training set: the loss falls, a run stopped after epoch 1 and resumed equals an
// uninterrupted one bit for bit (1 thread), the student's samples are seeded, the
// regression network is deterministic and round-trips through its model folder, and bad
// data are refused naming the file.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "fmd_test_data.h"
#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/learn/fmd_model_io.h"
#include "vmatplan/learn/fmd_training.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

FmdTrainingOptions smoke_options(const std::string& data, const std::string& out) {
  FmdTrainingOptions o;
  o.data = data;
  o.val_data = data;
  o.out = out;
  o.seed = 5;
  o.epochs = 3;
  o.batch_size = 2;
  o.window = 4;
  o.learning_rate = 2e-3;
  o.warmup_steps = 2;
  o.ema_half_life_steps = 2;
  o.max_val_windows = 4;
  o.network.base_channels = 8;
  o.network.embedding_channels = 16;
  o.fake_updates = 2;
  o.generator_learning_rate = 1e-3;
  o.expected_training_set_version = kTrainingSetVersion;
  o.command = "test";
  return o;
}

using TrainFn = FmdTrainingResult (*)(const FmdTrainingOptions&, const FmdTrainingProgressFn&);

// Trains `o` in one go into o.out and, into o.out + "_resumed", for one epoch and then with
// --resume up to o.epochs: both must end with the same loss and the same ROLE.safetensors
// bit for bit. (The Adam state is restored too: later epochs from a wrong state would give
// other weights. Its archive file is not compared: LibTorch keys it by tensor addresses.)
FmdTrainingResult check_resume_bit_identical(TrainFn train, FmdTrainingOptions o, const std::string& role) {
  const FmdTrainingResult full = train(o, {});
  const std::string out = o.out, resumed_out = o.out + "_resumed";
  const int epochs = o.epochs;
  o.out = resumed_out;
  o.epochs = 1;
  train(o, {});
  o.epochs = epochs;
  o.resume = true;
  const FmdTrainingResult resumed = train(o, {});
  CATCH_CHECK(resumed.history.size() == full.history.size());
  CATCH_CHECK(resumed.history.back().train_loss == full.history.back().train_loss);
  CATCH_CHECK(sha256_file_hex(out + "/" + role + ".safetensors") ==
              sha256_file_hex(resumed_out + "/" + role + ".safetensors"));
  return full;
}

// A network trained from scratch (teacher, regression): 3 epochs whose training and
// validation losses fall, resumed bit for bit.
FmdTrainingResult check_from_scratch(TrainFn train, const std::string& data, const std::string& out,
                                     const std::string& role) {
  const FmdTrainingResult full = check_resume_bit_identical(train, smoke_options(data, out), role);
  CATCH_REQUIRE(full.history.size() == 3);
  CATCH_CHECK(full.history.back().train_loss < full.history.front().train_loss);
  CATCH_CHECK(full.history.back().val_loss < full.history.front().val_loss);
  return full;
}

}  // namespace

CATCH_TEST_CASE("fmd dataset: arcs, normalisation and refusals", "[learn][fmd]") {
  const std::string dir = test::write_synthetic_training_set(test::scratch_dir("fmd_dataset"), 2, 100);
  const FmdCanvas canvas;
  const FmdDataset d = load_fmd_dataset(dir, kTrainingSetVersion, canvas);
  CATCH_CHECK(d.patients == 2);
  CATCH_REQUIRE(d.arcs.size() == 4);
  CATCH_CHECK(d.min_control_points == 6);
  // 60 Gy in 20 fractions over 12 control points: 25 MU per fraction per unit.
  CATCH_CHECK(fmd_fluence_scale_mu(3.0, 12) == Approx(25.0));
  float max_x = 0;
  for (float v : d.arcs[0].fluence) max_x = std::max(max_x, v);
  CATCH_CHECK(max_x == Approx(1.4).margin(1e-5));  // 1.2 + 0.4 sin(30 deg)
  const FmdBatch b = make_fmd_batch(d, canvas, {{0, 1}, {3, 2}}, 4, torch::kCPU);
  CATCH_CHECK(b.fluence.sizes() == torch::IntArrayRef({2, 1, 4, 40, 40}));
  CATCH_CHECK(b.condition.sizes() == torch::IntArrayRef({2, kFmdConditionChannels, 4, 40, 40}));

  const std::string old = test::write_synthetic_training_set(test::scratch_dir("fmd_dataset_v0"), 1, 100,
                                                             kTrainingSetVersion + 1);
  CATCH_CHECK_THROWS_WITH(load_fmd_dataset(old, kTrainingSetVersion, canvas),
                          Catch::StartsWith(old + "/training_manifest.json: training-set version"));
  {
    std::fstream f(dir + "/P101/training.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    f.write("\x01\x02\x03\x04", 4);
  }
  CATCH_CHECK_THROWS_WITH(load_fmd_dataset(dir, kTrainingSetVersion, canvas),
                          Catch::StartsWith(dir + "/P101/training.safetensors: SHA-256 differs"));
}

CATCH_TEST_CASE("fmd smoke training: teacher and student, loss falls, resume equals an uninterrupted run",
                "[learn][fmd][train]") {
  const std::string base = test::scratch_dir("fmd_train");
  const std::string data = test::write_synthetic_training_set(base + "/data", 3, 200);

  check_from_scratch(train_fmd_teacher, data, base + "/teacher", "teacher");
  // The same OUT without --resume, or with other settings, is refused.
  CATCH_CHECK_THROWS_AS(train_fmd_teacher(smoke_options(data, base + "/teacher")), InputError);
  FmdTrainingOptions other = smoke_options(data, base + "/teacher_resumed");
  other.resume = true;
  other.seed = 6;
  CATCH_CHECK_THROWS_WITH(train_fmd_teacher(other), Catch::Contains("--resume: seed differs"));

  FmdTrainingOptions s = smoke_options(data, base + "/fmd");
  s.teacher = base + "/teacher";
  s.epochs = 2;
  s.regression_warmup_steps = 2;
  const FmdTrainingResult student = check_resume_bit_identical(train_fmd_student, s, "student");
  CATCH_CHECK(student.history.size() == 2);

  // OUT is a complete model folder: both networks load, the student is seeded.
  const nlohmann::json m = read_json_file(base + "/fmd/manifest.json");
  CATCH_CHECK(m["networks"].contains("teacher"));
  CATCH_CHECK(m["networks"]["student"]["training"]["epochs"] == 2);
  CATCH_CHECK(m["data_version"].get<std::string>().size() == 64);
  LoadedFmdNetwork net = load_fmd_network(base + "/fmd", "student", kTrainingSetVersion, FmdCanvas{});
  load_fmd_network(base + "/fmd", "teacher", kTrainingSetVersion, FmdCanvas{});
  const FmdDataset d = load_fmd_dataset(data, kTrainingSetVersion, FmdCanvas{});
  const FmdArc& a = d.arcs[0];
  const torch::Tensor c = fmd_condition_on_canvas(FmdCanvas{}, a.grid, a.conditioning.data(), a.gantry_deg.data(),
                                                  a.control_points);
  const torch::Tensor x1 = fmd_sample_arc(net, FmdNetworkRole::kStudent, c, 1, 1);
  CATCH_CHECK(torch::equal(x1, fmd_sample_arc(net, FmdNetworkRole::kStudent, c, 1, 1)));
  CATCH_CHECK(!torch::equal(x1, fmd_sample_arc(net, FmdNetworkRole::kStudent, c, 2, 1)));
}

CATCH_TEST_CASE("fmd smoke training: regression baseline learns, resumes bit for bit, round-trips its model folder",
                "[learn][fmd][train]") {
  const std::string base = test::scratch_dir("fmd_regression");
  const std::string data = test::write_synthetic_training_set(base + "/data", 3, 400);
  check_from_scratch(train_fmd_regression, data, base + "/regression", "regression");

  // A model folder of its own with the teacher's manifest fields, one network.
  const std::string dir = base + "/regression";
  const nlohmann::json m = read_json_file(dir + "/manifest.json");
  CATCH_CHECK(m["networks"].size() == 1);
  const nlohmann::json& e = m["networks"]["regression"];
  CATCH_CHECK(e["file"] == "regression.safetensors");
  CATCH_CHECK(e["training"]["config"]["role"] == "regression");
  CATCH_CHECK(e["training"]["epochs"] == 3);
  CATCH_CHECK(e["generator_sigma"] == m["edm"]["sigma_max"]);
  CATCH_CHECK(m["data_version"].get<std::string>().size() == 64);
  CATCH_CHECK(m["training_set_version"] == kTrainingSetVersion);
  CATCH_CHECK_THROWS_WITH(load_fmd_network(dir, "teacher", kTrainingSetVersion, FmdCanvas{}),
                          Catch::StartsWith(dir + "/manifest.json: lists no 'teacher'"));

  // Round trip: the loaded weights written again are the same file byte for byte.
  LoadedFmdNetwork net = load_fmd_network(dir, "regression", kTrainingSetVersion, FmdCanvas{});
  const nlohmann::json again = write_network_file(*net.net, base + "/again.safetensors");
  CATCH_CHECK(again["sha256"] == e["sha256"]);
  CATCH_CHECK(again["bytes"] == e["bytes"]);

  // One evaluation, no noise: G(0; c) whatever the seed, and nearer the reference fluence
  // than no fluence at all (what the network started from: its last layer starts at 0).
  const FmdCanvas canvas;
  const FmdDataset d = load_fmd_dataset(data, kTrainingSetVersion, canvas);
  const FmdArc& a = d.arcs[1];
  const torch::Tensor c =
      fmd_condition_on_canvas(canvas, a.grid, a.conditioning.data(), a.gantry_deg.data(), a.control_points);
  const torch::Tensor x = fmd_sample_arc(net, FmdNetworkRole::kRegression, c, 1, 0);
  CATCH_CHECK(torch::equal(x, fmd_sample_arc(net, FmdNetworkRole::kRegression, c, 2, 0)));
  CATCH_CHECK(fmd_network_evaluations(FmdNetworkRole::kRegression, 18) == 1);
  const FmdBatch b = make_fmd_batch(d, canvas, {{1, 0}}, a.control_points, torch::kCPU);
  const torch::Tensor reference = b.fluence.squeeze(0).squeeze(0);
  const double error = (x - reference).pow(2).mean().item<double>();
  CATCH_CHECK(error < 0.5 * reference.pow(2).mean().item<double>());
}
