// Smoke training of the FMD teacher and student on a tiny synthetic training set: the loss
// falls, a run stopped after epoch 1 and resumed equals an uninterrupted one bit for bit
// (1 thread), the student's samples are seeded, and bad data are refused naming the file.
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

  const FmdTrainingResult full = train_fmd_teacher(smoke_options(data, base + "/teacher"));
  CATCH_REQUIRE(full.history.size() == 3);
  CATCH_CHECK(full.history.back().train_loss < full.history.front().train_loss);
  CATCH_CHECK(full.history.back().val_loss < full.history.front().val_loss);

  FmdTrainingOptions first = smoke_options(data, base + "/teacher_resumed");
  first.epochs = 1;
  train_fmd_teacher(first);
  FmdTrainingOptions rest = smoke_options(data, base + "/teacher_resumed");
  rest.resume = true;
  const FmdTrainingResult resumed = train_fmd_teacher(rest);
  CATCH_CHECK(resumed.history.size() == 3);
  CATCH_CHECK(resumed.history.back().train_loss == full.history.back().train_loss);
  CATCH_CHECK(sha256_file_hex(base + "/teacher/teacher.safetensors") ==
              sha256_file_hex(base + "/teacher_resumed/teacher.safetensors"));
  // (The Adam state was restored too: two more epochs from a wrong state would give other
  // weights. Its archive file is not compared: LibTorch keys it by tensor addresses.)
  // The same OUT without --resume, or with other settings, is refused.
  CATCH_CHECK_THROWS_AS(train_fmd_teacher(smoke_options(data, base + "/teacher")), InputError);
  FmdTrainingOptions other = rest;
  other.seed = 6;
  CATCH_CHECK_THROWS_WITH(train_fmd_teacher(other), Catch::Contains("--resume: seed differs"));

  FmdTrainingOptions s = smoke_options(data, base + "/fmd");
  s.teacher = base + "/teacher";
  s.epochs = 2;
  s.regression_warmup_steps = 2;
  const FmdTrainingResult student = train_fmd_student(s);
  CATCH_CHECK(student.history.size() == 2);
  FmdTrainingOptions s1 = s;
  s1.out = base + "/fmd_resumed";
  s1.epochs = 1;
  train_fmd_student(s1);
  s1.epochs = 2;
  s1.resume = true;
  train_fmd_student(s1);
  CATCH_CHECK(sha256_file_hex(base + "/fmd/student.safetensors") ==
              sha256_file_hex(base + "/fmd_resumed/student.safetensors"));

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
