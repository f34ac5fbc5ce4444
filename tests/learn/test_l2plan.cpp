// L2Plan optimiser: at initialisation it is projected gradient descent, the safeguard
// never accepts a step that raises the objective, bounds hold, weight files round-trip
// and bad files fail with one line naming the file, meta-training resumes identically.
#include <torch/torch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "learn/learn_fixture.h"
#include "test_support.h"
#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/pipeline/fmd_generator.h"
#include "vmatplan/pipeline/l2plan_refiners.h"
#include "vmatplan/learn/l2plan_training.h"
#include "vmatplan/pipeline/fluence_stages.h"

using namespace vmatplan;

namespace {

// A network whose head pushes hard: large preconditioner and bias everywhere (and, with
// the quasi-Newton term, the largest share of the L-BFGS step).
L2PlanNet aggressive_net(L2PlanArchitecture arch = {}) {
  arch.hidden = 8;
  L2PlanNet net(arch);
  torch::NoGradGuard ng;
  for (auto& p : net->named_parameters()) {
    if (p.key() == "head.bias")
      p.value().copy_(arch.outputs() == 3 ? torch::tensor({5.0f, -3.0f, 5.0f}) : torch::tensor({5.0f, -3.0f}));
  }
  return net;
}

}  // namespace

CATCH_TEST_CASE("L2Plan with a zero head is projected gradient descent", "[learn][l2plan]") {
  const test::LearnFixture& fx = test::learn_fixture();
  RefineProblem p = fx.problem();
  L2PlanArchitecture arch;
  arch.row_prior = false;
  arch.cp_prior = false;
  torch::manual_seed(1);
  L2PlanNet net(arch.hidden);
  torch::Tensor x = p.start(), g;
  p.value_and_grad(x, &g);
  L2PlanState s1, s2;
  torch::Tensor learned = l2plan_step(net, arch, p, x, g, s1, 0, 10).detach();
  torch::Tensor plain = l2plan_step(nullptr, arch, p, x, g, s2, 0, 10);
  const double alpha = arch.step_fraction * p.f_ref_mu() / g.abs().max().item<double>();
  torch::Tensor manual = (x - alpha * g).clamp(0.0, p.f_max_mu());
  CATCH_CHECK(torch::allclose(learned, manual, 1e-6, 1e-6));
  CATCH_CHECK(torch::allclose(plain, manual, 1e-6, 1e-6));
  // Whole runs agree too (the safeguard sees the same values).
  const RefineTrace a = run_l2plan(net, arch, p, x, 3), b = run_l2plan(nullptr, arch, p, x, 3);
  CATCH_REQUIRE(a.objective.size() == 4);
  for (size_t i = 0; i < a.objective.size(); ++i) CATCH_CHECK(a.objective[i] == Approx(b.objective[i]).epsilon(1e-9));
  // With the quasi-Newton term and a zero head: still projected gradient descent (Q = 0),
  // although the L-BFGS pairs are collected from the second step on.
  L2PlanArchitecture qn = arch;
  qn.qn_memory = 5;
  L2PlanNet qn_net(qn);
  CATCH_CHECK(qn_net->named_parameters()["head.weight"].size(0) == 3);
  const RefineTrace c = run_l2plan(qn_net, qn, p, x, 3);
  CATCH_REQUIRE(c.objective.size() == 4);
  for (size_t i = 0; i < c.objective.size(); ++i) CATCH_CHECK(c.objective[i] == Approx(b.objective[i]).epsilon(1e-9));
}

// The refiners and the classical optimiser minimise one objective (dose terms, smoothness,
// MU price and the single-hump term), so "objective / classical optimum" compares like with
// like. Bixels the jaws cut are left empty so that both see the same fluence level f_ref.
CATCH_TEST_CASE("the refiners' objective is the classical optimiser's", "[learn][l2plan]") {
  const test::LearnFixture& fx = test::learn_fixture();
  const RefineProblem conformal = fx.problem();
  const torch::Tensor open = (conformal.delivered(torch::ones_like(conformal.start())) == 1).to(torch::kFloat);
  const FluenceMaps start = conformal.to_maps(conformal.start() * open);
  FluenceOptimizerOptions w = protocol_optimizer_options(fx.options.plan.optimizer, fx.protocol, fx.machine);
  const RefineProblem p(fx.refine.engine_dose(), fx.objective, fx.refine.geometry, start, w);
  auto classical = [&](FluenceOptimizerOptions o) {
    o.leaf_transmission = 0.0;  // the refiners' fluence is delivered fluence
    o.max_iterations = 0;       // the objective at the start only
    o.f_max_mu = p.f_max_mu();
    return optimize_fluence(*fx.refine.engine, *fx.objective, fx.refine.geometry, start, o).history.front();
  };
  const IterationRecord c = classical(w);
  CATCH_CHECK(p.value_only(p.start()) == Approx(c.objective).epsilon(1e-5));
  // The single-hump term is part of it: without it the classical value is lower.
  FluenceOptimizerOptions no_hump = w;
  no_hump.single_hump_weight = 0.0;
  CATCH_CHECK(classical(no_hump).objective < c.objective - 1e-6 * std::abs(c.objective));
}

CATCH_TEST_CASE("L2Plan safeguard never raises the objective; bounds hold", "[learn][l2plan]") {
  const test::LearnFixture& fx = test::learn_fixture();
  RefineProblem p = fx.problem();
  for (int qn_memory : {0, 5}) {
    CATCH_INFO("qn_memory " << qn_memory);
    L2PlanArchitecture arch;
    arch.step_fraction = 2.0;  // far too long steps: the safeguard has work to do
    arch.qn_memory = qn_memory;
    const RefineTrace t = run_l2plan(aggressive_net(arch), arch, p, p.start(), 6);
    for (size_t i = 1; i < t.objective.size(); ++i) CATCH_CHECK(t.objective[i] <= t.objective[i - 1]);
    CATCH_CHECK(t.fallbacks > 0);
    CATCH_CHECK(t.objective.back() < t.objective.front());
    CATCH_CHECK(t.x.min().item<double>() >= 0.0);
    CATCH_CHECK(t.x.max().item<double>() <= p.f_max_mu() * (1 + 1e-6));  // float rounding of the bound
    // Without the safeguard the same steps stay in the box too (two steps: the second
    // one has a curvature pair).
    L2PlanState s;
    torch::Tensor x = p.start(), g;
    p.value_and_grad(x, &g);
    L2PlanNet net = aggressive_net(arch);
    for (int step = 0; step < 2; ++step) {
      x = l2plan_step(net, arch, p, x, g, s, step, 6);
      CATCH_CHECK(x.min().item<double>() >= 0.0);
      CATCH_CHECK(x.max().item<double>() <= p.f_max_mu() * (1 + 1e-6));  // float rounding of the bound
      p.value_and_grad(x, &g);
    }
    CATCH_CHECK(s.qn.pairs() == (qn_memory > 0 ? 1u : 0u));
  }
}

CATCH_TEST_CASE("L2Plan weights: round trip and one-line errors for bad files", "[learn][l2plan]") {
  const std::string dir = test::scratch_dir("l2plan_weights");
  torch::manual_seed(2);
  L2PlanNet net(8);
  L2PlanArchitecture arch;
  arch.hidden = 8;
  arch.cp_prior = false;
  save_l2plan_weights(net, arch, dir + "/w.safetensors");
  {  // with the quasi-Newton term: three head outputs, ten inputs, both kept
    L2PlanArchitecture qn = arch;
    qn.qn_memory = 4;
    qn.qn_max = 0.5;
    L2PlanNet qn_net(qn);
    save_l2plan_weights(qn_net, qn, dir + "/qn.safetensors");
    L2PlanArchitecture qn_back;
    L2PlanNet qn_loaded = load_l2plan_weights(dir + "/qn.safetensors", &qn_back);
    CATCH_CHECK(qn_back.to_json() == qn.to_json());
    CATCH_CHECK(qn_back.features() == 10);
    CATCH_CHECK(torch::equal(qn_net->named_parameters()["lstm.weight_ih"], qn_loaded->named_parameters()["lstm.weight_ih"]));
  }
  {  // architecture written before the term existed (no qn keys): none
    nlohmann::json old = arch.to_json();
    old.erase("qn_memory");
    old.erase("qn_max");
    CATCH_CHECK(L2PlanArchitecture::from_json(old, "old").qn_memory == 0);
  }
  L2PlanArchitecture back;
  L2PlanNet loaded = load_l2plan_weights(dir + "/w.safetensors", &back);
  CATCH_CHECK(back.to_json() == arch.to_json());
  auto a = net->named_parameters(), b = loaded->named_parameters();
  CATCH_REQUIRE(a.size() == b.size());
  for (const auto& kv : a) CATCH_CHECK(torch::equal(kv.value(), b[kv.key()]));

  auto message = [](auto f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CATCH_CHECK(message([&] { load_l2plan_weights(dir + "/none.safetensors", nullptr); }).find("none.safetensors") !=
              std::string::npos);
  {  // truncated
    std::filesystem::copy_file(dir + "/w.safetensors", dir + "/cut.safetensors");
    std::filesystem::resize_file(dir + "/cut.safetensors", std::filesystem::file_size(dir + "/w.safetensors") - 40);
    const std::string m = message([&] { load_l2plan_weights(dir + "/cut.safetensors", nullptr); });
    CATCH_CHECK(m.find("cut.safetensors") != std::string::npos);
    CATCH_CHECK(m.find('\n') == std::string::npos);
  }
  // A model folder: missing manifest, then a manifest whose sha256 does not match.
  CATCH_CHECK(message([&] { load_l2plan_model(dir); }).find("manifest.json") != std::string::npos);
  {
    std::ofstream(dir + "/manifest.json") << nlohmann::json{{"format", "vmatplan-l2plan"},
                                                             {"architecture", arch.to_json()},
                                                             {"weights", {{"file", "cut.safetensors"},
                                                                          {"sha256", sha256_file_hex(dir + "/w.safetensors")}}}}
                                                 .dump();
    CATCH_CHECK(message([&] { load_l2plan_model(dir); }).find("sha256") != std::string::npos);
  }
  {  // mismatched architecture in the manifest
    L2PlanArchitecture other = arch;
    other.hidden = 16;
    std::ofstream(dir + "/manifest.json") << nlohmann::json{{"format", "vmatplan-l2plan"},
                                                             {"architecture", other.to_json()},
                                                             {"weights", {{"file", "w.safetensors"},
                                                                          {"sha256", sha256_file_hex(dir + "/w.safetensors")}}}}
                                                 .dump();
    CATCH_CHECK(message([&] { load_l2plan_model(dir); }).find("architecture") != std::string::npos);
  }
  // The l2plan refiner without a model fails when it is made, naming the manifest.
  LearnedRefinerSettings s;
  s.model_dir = dir + "/absent";
  register_learned_refiners(s);
  CATCH_CHECK(message([&] { make_fluence_refiner("l2plan"); }).find("absent/manifest.json") != std::string::npos);
  register_learned_refiners({});
}

CATCH_TEST_CASE("L2Plan meta-training: smoke run, and --resume continues identically", "[learn][l2plan][train]") {
  const std::string dir = test::scratch_dir("l2plan_train");
  std::string patient;
  CATCH_REQUIRE(test::make_tiny_phantom(dir, 4, &patient).exit_code == 0);
  L2PlanTrainOptions o;
  o.patients = {patient};
  o.epochs = 2;
  o.steps = 4;
  o.unroll = 2;
  o.arch.hidden = 8;
  o.learning_rate = 1e-2;
  o.cases.plan.arcs = default_two_arcs(30.0);
  o.cases.plan.bixel_width_mm = 10.0;
  o.cases.plan.dose_spacing_mm = 10.0;
  o.cases.build_predictor = false;
  o.out = dir + "/straight";
  const L2PlanTrainResult straight = train_l2plan(o);
  CATCH_REQUIRE(straight.epoch_meta_loss.size() == 2);
  for (double l : straight.epoch_meta_loss) CATCH_CHECK(l < 0.0);  // the objective went down
  CATCH_CHECK(load_l2plan_model(o.out).arch.hidden == 8);

  o.out = dir + "/resumed";
  o.epochs = 1;
  train_l2plan(o);
  o.epochs = 2;
  o.resume = true;
  const L2PlanTrainResult resumed = train_l2plan(o);
  CATCH_CHECK(resumed.epoch_meta_loss == straight.epoch_meta_loss);
  CATCH_CHECK(sha256_file_hex(resumed.weights_path) == sha256_file_hex(straight.weights_path));
  // A different run in the same folder is refused.
  o.seed = 9;
  CATCH_CHECK_THROWS_AS(train_l2plan(o), UsageError);
}

CATCH_TEST_CASE("the FMD start is the fmd generator's fluence on the refiner's plan grid", "[learn][l2plan]") {
  const test::LearnFixture& f = test::learn_fixture();
  const std::string fmd = model_dir("fmd");
  const FluenceMaps a = fmd_refine_start(f.patient, f.protocol, f.machine, f.roles, f.options.plan, f.refine, fmd, 5);
  FluenceStageContext c{f.patient, f.protocol, f.machine, f.roles, f.options.plan, {}};
  c.learned.weights_dir = fmd;
  c.learned.seed = 5;
  const FluencePlan g = make_fluence_generator("fmd")->generate(c);
  // The generator's fluence times one factor...
  CATCH_REQUIRE(a.values.size() == g.fluence.values.size());
  const size_t i_max = static_cast<size_t>(std::max_element(g.fluence.values.begin(), g.fluence.values.end()) -
                                           g.fluence.values.begin());
  const double factor = double(a.values[i_max]) / g.fluence.values[i_max];
  for (size_t i = 0; i < a.values.size(); ++i)
    CATCH_CHECK(std::abs(a.values[i] - factor * g.fluence.values[i]) <= 1e-5 * a.values[i_max]);
  // ...the one that gives the target its prescription as mean dose (on the CT grid here,
  // not the dose grid the scaling used: within 2 %).
  const TargetLevel& level = f.protocol.prescription.targets.front();
  const Mask& target = f.roles.resolve(f.patient, level.role).mask;
  const DoseImage dose = resample_dose(f.refine.engine->dose_image(a), f.patient.ct_hu.grid);
  double sum = 0, n = 0;
  for (size_t v = 0; v < target.voxels.size(); ++v)
    if (target.voxels[v]) sum += dose.voxels[v], n += 1;
  CATCH_REQUIRE(n > 0);
  CATCH_CHECK(std::abs(sum / n / level.dose_gy - 1.0) < 0.02);
  CATCH_CHECK(a.control_point_count == f.refine.conformal_start.control_point_count);
  CATCH_CHECK(a.grid.row_edges_mm == f.refine.grid.row_edges_mm);
  CATCH_CHECK(a.grid.x_min_mm == f.refine.grid.x_min_mm);
  CATCH_CHECK(a.values.size() == f.refine.conformal_start.values.size());
  CATCH_CHECK(*std::max_element(a.values.begin(), a.values.end()) > 0.0f);
  // Another noise seed, another sample: what varies the training episodes' starts.
  const FluenceMaps b = fmd_refine_start(f.patient, f.protocol, f.machine, f.roles, f.options.plan, f.refine, fmd, 6);
  CATCH_CHECK(b.values != a.values);
}
