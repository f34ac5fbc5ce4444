// EDM formulas, the FMD network, model folders (save/load, every refusal names the file)
// and seeded sampling.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/learn/edm.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/learn/fmd_model_io.h"
#include "vmatplan/pipeline/training_set.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

FmdNetworkConfig small_config() {
  FmdNetworkConfig c;
  c.base_channels = 8;
  c.embedding_channels = 16;
  return c;
}

// A model folder with an (untrained, seeded, output layer perturbed) teacher and student.
std::string write_model(const std::string& dir) {
  torch::manual_seed(3);
  FmdUNet net(small_config());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.add_(0.01 * torch::randn_like(p));
  }
  nlohmann::json entry = write_network_file(*net, dir + "/teacher.safetensors");
  entry["architecture"] = small_config().to_json();
  nlohmann::json student = write_network_file(*net, dir + "/student.safetensors");
  student["architecture"] = small_config().to_json();
  const nlohmann::json manifest = {{"format", kFmdModelFormat}, {"format_version", kFmdModelFormatVersion},
                                   {"canvas", FmdCanvas{}.to_json()}, {"edm", EdmConfig{}.to_json()},
                                   {"training_set_version", kTrainingSetVersion},
                                   {"networks", {{"teacher", entry}, {"student", student}}}};
  write_fmd_manifest(dir, manifest);
  return dir;
}

torch::Tensor condition(int cps) {
  torch::manual_seed(11);
  return torch::rand({kFmdConditionChannels, cps, 40, 40});
}

void rewrite_manifest(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json m = read_json_file(dir + "/manifest.json");
  edit(m);
  std::ofstream(dir + "/manifest.json") << m.dump();
}

}  // namespace

CATCH_TEST_CASE("edm: preconditioning, loss weight and schedule follow Karras et al. 2022", "[learn][fmd]") {
  const torch::Tensor sigma = torch::tensor({0.5, 2.0}, torch::kFloat64);
  const EdmPreconditioning p = edm_preconditioning(sigma, 0.5);
  CATCH_CHECK(p.c_skip[0].item<double>() == Approx(0.5));                     // sd^2 / (s^2 + sd^2)
  CATCH_CHECK(p.c_out[1].item<double>() == Approx(2.0 * 0.5 / std::sqrt(4.25)));
  CATCH_CHECK(p.c_in[1].item<double>() == Approx(1.0 / std::sqrt(4.25)));
  CATCH_CHECK(p.c_noise[1].item<double>() == Approx(0.25 * std::log(2.0)));
  // lambda(sigma) * c_out^2 = 1: the effective target of F has unit weight at every sigma.
  CATCH_CHECK((edm_loss_weight(sigma, 0.5) * p.c_out * p.c_out)[1].item<double>() == Approx(1.0));
  const EdmConfig edm;
  const auto s = edm_sigma_schedule(18, edm);
  CATCH_REQUIRE(s.size() == 19);
  CATCH_CHECK(s.front() == Approx(80.0));
  CATCH_CHECK(s[17] == Approx(0.002));
  CATCH_CHECK(s.back() == 0.0);
  // A point-mass data set: D(x; sigma) = mu; the ODE's solution is linear in sigma, which
  // Heun integrates exactly, so every start ends at mu.
  const torch::Tensor mu = torch::full({1, 1, 2, 4, 4}, 0.7, torch::kFloat64);
  const torch::Tensor x = edm_heun_sample([&](const torch::Tensor&, double) { return mu; },
                                          torch::randn({1, 1, 2, 4, 4}, torch::kFloat64), 18, edm);
  CATCH_CHECK((x - mu).abs().max().item<double>() < 1e-9);
}

CATCH_TEST_CASE("fmd network: shapes, stable parameter names, size", "[learn][fmd]") {
  FmdUNet net(FmdNetworkConfig{});
  const auto names = net->named_parameters().keys();
  for (const char* n : {"input.weight", "down0.spatial.weight", "down1.skip.weight", "middle1.along_arc.weight",
                        "up0.film.weight", "output.bias", "embed_in.weight"})
    CATCH_CHECK(std::find(names.begin(), names.end(), n) != names.end());
  CATCH_CHECK(parameter_count(*net) < 2'000'000);  // "a few M parameters at most"
  torch::NoGradGuard no_grad;
  const torch::Tensor c = condition(5).unsqueeze(0);
  const torch::Tensor out = net->forward(torch::randn({1, 1, 5, 40, 40}), c, torch::zeros({1}));
  CATCH_CHECK(out.sizes() == torch::IntArrayRef({1, 1, 5, 40, 40}));
  CATCH_CHECK_THROWS_AS(net->forward(torch::randn({1, 1, 5, 38, 40}), c, torch::zeros({1})), ProcessingError);
}

CATCH_TEST_CASE("fmd model folder: save/load round trip, seeded sampling", "[learn][fmd]") {
  const std::string dir = write_model(test::scratch_dir("fmd_model_roundtrip"));
  LoadedFmdNetwork t = load_fmd_network(dir, "teacher", kTrainingSetVersion, FmdCanvas{});
  CATCH_CHECK(t.weights_sha256.size() == 64);
  // Weights after the round trip equal the saved ones bit for bit.
  torch::manual_seed(3);
  FmdUNet again(small_config());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : again->parameters()) p.add_(0.01 * torch::randn_like(p));
  }
  const auto loaded = t.net->named_parameters();
  for (const auto& p : again->named_parameters()) CATCH_CHECK(torch::equal(p.value(), loaded[p.key()]));

  LoadedFmdNetwork s = load_fmd_network(dir, "student", kTrainingSetVersion, FmdCanvas{});
  const torch::Tensor c = condition(4);
  const torch::Tensor a = fmd_sample_arc(s, FmdNetworkRole::kStudent, c, 7, 1);
  CATCH_CHECK(a.sizes() == torch::IntArrayRef({4, 40, 40}));
  CATCH_CHECK(a.min().item<float>() >= 0.0f);
  CATCH_CHECK(torch::equal(a, fmd_sample_arc(s, FmdNetworkRole::kStudent, c, 7, 1)));
  CATCH_CHECK(!torch::equal(a, fmd_sample_arc(s, FmdNetworkRole::kStudent, c, 8, 1)));
  const torch::Tensor h = fmd_sample_arc(t, FmdNetworkRole::kTeacher, c, 7, 3);
  CATCH_CHECK(torch::equal(h, fmd_sample_arc(t, FmdNetworkRole::kTeacher, c, 7, 3)));
  CATCH_CHECK(fmd_network_evaluations(FmdNetworkRole::kTeacher, 18) == 35);
}

CATCH_TEST_CASE("fmd model folder: every refusal is an InputError naming the file", "[learn][fmd]") {
  const std::string base = test::scratch_dir("fmd_model_errors");
  const auto fresh = [&](const std::string& name) {
    fs::create_directories(base + "/" + name);
    return write_model(base + "/" + name);
  };
  const auto refusal = [](const std::string& dir, const std::string& role) {
    try {
      load_fmd_network(dir, role, kTrainingSetVersion, FmdCanvas{});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CATCH_CHECK_THAT(refusal(base + "/none", "student"), Catch::StartsWith(base + "/none/manifest.json: no FMD model"));

  std::string dir = fresh("truncated");
  fs::resize_file(dir + "/student.safetensors", fs::file_size(dir + "/student.safetensors") - 10);
  CATCH_CHECK_THAT(refusal(dir, "student"), Catch::StartsWith(dir + "/student.safetensors: ") &&
                                                Catch::Contains("truncated"));

  dir = fresh("sha");
  {
    std::fstream f(dir + "/student.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    f.write("\x01\x02\x03\x04", 4);
  }
  CATCH_CHECK_THAT(refusal(dir, "student"), Catch::StartsWith(dir + "/student.safetensors: SHA-256 differs"));

  dir = fresh("shape");
  rewrite_manifest(dir, [](nlohmann::json& m) { m["networks"]["student"]["architecture"]["base_channels"] = 12; });
  CATCH_CHECK_THAT(refusal(dir, "student"), Catch::StartsWith(dir + "/student.safetensors: tensor '") &&
                                                Catch::Contains("the network expects"));

  dir = fresh("version");
  rewrite_manifest(dir, [](nlohmann::json& m) { m["training_set_version"] = kTrainingSetVersion + 1; });
  CATCH_CHECK_THAT(refusal(dir, "teacher"), Catch::StartsWith(dir + "/manifest.json: trained on training-set version"));

  dir = fresh("canvas");
  rewrite_manifest(dir, [](nlohmann::json& m) { m["canvas"]["rows"] = 32; });
  CATCH_CHECK_THAT(refusal(dir, "teacher"), Catch::StartsWith(dir + "/manifest.json: canvas"));

  dir = fresh("missing");
  fs::remove(dir + "/teacher.safetensors");
  CATCH_CHECK_THAT(refusal(dir, "teacher"), Catch::StartsWith(dir + "/teacher.safetensors: weights file missing"));
  CATCH_CHECK_THAT(refusal(dir, "refiner"), Catch::StartsWith(dir + "/manifest.json: lists no 'refiner'"));
}
