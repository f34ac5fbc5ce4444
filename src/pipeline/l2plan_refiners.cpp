// The learned and comparison refiners (see l2plan_refiners.h).
#include "vmatplan/pipeline/l2plan_refiners.h"

#include <torch/torch.h>

#include <chrono>
#include <memory>

#include "vmatplan/core/error.h"
#include "vmatplan/learn/l2plan_training.h"
#include "vmatplan/pipeline/fluence_stages.h"

namespace vmatplan {
namespace {

class StepRefiner : public FluenceRefiner {
 public:
  StepRefiner(std::string method, LearnedRefinerSettings s) : method_(std::move(method)), s_(std::move(s)) {
    if (s_.steps < 1) throw UsageError("--refine-steps must be >= 1");
    if (s_.dose != "engine" && s_.dose != "predictor")
      throw UsageError("--refine-dose must be engine or predictor, not '" + s_.dose + "'");
    if (method_ == "l2plan") {
      const std::string dir = s_.model_dir.empty() ? std::string(VMATPLAN_SOURCE_DIR) + "/models/l2plan" : s_.model_dir;
      model_ = load_l2plan_model(dir);
      model_.arch.row_prior = s_.row_prior && model_.arch.row_prior;
      model_.arch.cp_prior = s_.cp_prior && model_.arch.cp_prior;
    }
  }

  FluencePlan refine(const FluenceStageContext& c, FluencePlan plan) override {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const PencilBeamEngine> engine = plan.engine;
    if (!engine) {
      DoseEngineOptions eo;
      eo.dose_spacing_mm = c.options.dose_spacing_mm;
      engine = std::make_shared<const PencilBeamEngine>(c.patient, c.machine, plan.geometry, plan.fluence.grid, eo);
    }
    const Protocol protocol = with_objective_weight_factors(c.protocol, s_.objective_weight_factors);
    auto objective = std::make_shared<const PlanObjective>(c.patient, protocol, c.roles, engine->dose_grid(),
                                                           engine->compute_voxels());
    DoseFunction dose = [engine](const at::Tensor& f) { return engine->dose_at_voxels(f); };
    std::shared_ptr<const DosePredictor> predictor;
    if (s_.dose == "predictor" && method_ != "lbfgs") {
      const Structure& target = c.roles.resolve(c.patient, protocol.prescription.targets.front().role);
      predictor = std::make_shared<const DosePredictor>(c.patient, c.machine, plan.geometry, plan.fluence.grid,
                                                        engine->dose_grid(), engine->compute_voxels(), &target.mask);
      dose = [predictor](const at::Tensor& f) { return predictor->dose_at_voxels(f); };
    }
    // The start's dose scale first (target mean = Rx), as bench_refiner and train l2plan start.
    const double start_scale = scale_to_target_mean(plan.fluence, c.patient, protocol, c.roles, *engine);
    const FluenceOptimizerOptions weights = protocol_optimizer_options(c.options.optimizer, protocol, c.machine);
    RefineProblem problem(dose, objective, plan.geometry, plan.fluence, weights);
    // The objective on the engine, for the record: a second problem only when the refiner
    // used the predictor; on the engine its trace already holds those values.
    std::unique_ptr<RefineProblem> on_engine;
    if (predictor)
      on_engine = std::make_unique<RefineProblem>([engine](const at::Tensor& f) { return engine->dose_at_voxels(f); },
                                                  objective, plan.geometry, plan.fluence, weights);
    const torch::Tensor x0 = problem.start();
    double objective_start = 0;
    nlohmann::json info = {{"refiner", method_}, {"steps", s_.steps}, {"dose_model", s_.dose},
                           {"start_scale", start_scale}};
    if (!s_.objective_weight_factors.empty()) info["objective_weight_factors"] = s_.objective_weight_factors;
    if (method_ == "lbfgs") {
      FluenceOptimizerOptions oo = weights;
      oo.max_iterations = s_.steps;
      oo.relative_tolerance = -1.0;  // run the whole budget
      oo.leaf_transmission = 0.0;    // the start is delivered fluence already
      oo.f_max_mu = problem.f_max_mu();
      FluenceOptimizationResult r = optimize_fluence(*engine, *objective, plan.geometry, plan.fluence, oo);
      plan.fluence = r.fluence;
      info["dose_model"] = "engine";
      info["iterations"] = r.iterations;
      info["objective_final_engine"] = r.history.back().objective;
      objective_start = problem.value_only(x0);
    } else {
      RefineTrace t;
      if (method_ == "adam") t = run_adam(problem, x0, s_.steps, s_.adam_lr_fraction);
      else {
        L2PlanArchitecture arch = model_.net ? model_.arch : L2PlanArchitecture{};
        if (!model_.net) {
          arch.row_prior = s_.row_prior;
          arch.cp_prior = s_.cp_prior;
        }
        t = run_l2plan(model_.net, arch, problem, x0, s_.steps, true);
        info["safeguard_fallbacks"] = t.fallbacks;
        info["safeguard_stalls"] = t.stalls;
        info["priors"] = {{"rows", arch.row_prior}, {"control_points", arch.cp_prior}};
      }
      plan.fluence = problem.to_maps(t.x);
      info["objective_trace"] = t.objective;
      info["objective_final_engine"] = on_engine ? on_engine->value_only(t.x) : t.objective.back();
      objective_start = on_engine ? on_engine->value_only(x0) : t.objective.front();
    }
    info["objective_start"] = objective_start;
    info["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (method_ == "l2plan") info["model"] = model_.manifest.value("weights", nlohmann::json::object());
    plan.info["refine"] = info;
    plan.engine = engine;
    return plan;
  }

 private:
  std::string method_;
  LearnedRefinerSettings s_;
  L2PlanModel model_;
};

}  // namespace

Protocol with_objective_weight_factors(const Protocol& protocol,
                                       const std::vector<std::pair<std::string, double>>& factors) {
  Protocol p = protocol;
  for (const auto& [role, factor] : factors) {
    if (!(factor > 0)) throw UsageError("--objective-weight " + role + ": the factor must be > 0");
    bool used = false;
    for (ObjectiveSpec& s : p.objectives)
      if (s.role == role) {
        s.weight *= factor;
        used = true;
      }
    if (!used) throw UsageError("--objective-weight: no objective of protocol '" + p.name + "' uses role '" + role + "'");
  }
  return p;
}

std::pair<std::string, double> parse_objective_weight(const std::string& text) {
  const auto eq = text.find('=');
  try {
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("no ROLE=");
    size_t used = 0;
    const double v = std::stod(text.substr(eq + 1), &used);
    if (used != text.size() - eq - 1) throw std::invalid_argument("trailing text");
    return {text.substr(0, eq), v};
  } catch (const std::exception&) {
    throw UsageError("--objective-weight '" + text + "': expected ROLE=FACTOR, e.g. rectum=4");
  }
}

void register_learned_refiners(const LearnedRefinerSettings& settings) {
  for (const char* name : {"l2plan", "pgd", "adam", "lbfgs"}) {
    const std::string method = name;
    register_fluence_refiner(method, [method, settings] { return std::make_unique<StepRefiner>(method, settings); });
  }
}

}  // namespace vmatplan
