#pragma once
// The refiners of `generate --refiner NAME` that this area provides, all with the same
// step budget (`--refine-steps N`) on the same problem (refine_problem.h):
//   l2plan  the learned optimiser (needs a model folder: --l2plan-model, default models/l2plan)
//   pgd     projected gradient descent with the same base step and safeguard (L2Plan untrained)
//   adam    projected Adam, learning rate adam_lr_fraction x f_ref
//   lbfgs   the classical projected L-BFGS (optimize_fluence) for N iterations, engine only
//
//   register_learned_refiners({});           // names visible in --help
//   LearnedRefinerSettings s; s.steps = 30; register_learned_refiners(s);  // re-registers
#include <string>
#include <utility>
#include <vector>

#include "vmatplan/evaluation/protocol.h"

namespace vmatplan {

struct LearnedRefinerSettings {
  int steps = 20;
  std::string model_dir;          // "" = <source>/models/l2plan
  std::string dose = "engine";    // engine | predictor: the model the refiner's gradients use
  double adam_lr_fraction = 0.1;  // tuned on validation seeds (docs/l2plan.md)
  // ROLE=FACTOR: multiply the weights of that role's objectives (re-planning with changed
  // priorities, e.g. {"rectum", 4}); applied to the refiner's objective only.
  std::vector<std::pair<std::string, double>> objective_weight_factors;
  bool row_prior = true;
  bool cp_prior = true;
};

void register_learned_refiners(const LearnedRefinerSettings& settings);

// The protocol with ROLE=FACTOR weight factors applied; UsageError for a role that no
// objective uses or a non-positive factor.
Protocol with_objective_weight_factors(const Protocol& protocol,
                                       const std::vector<std::pair<std::string, double>>& factors);

// "rectum=4" -> {"rectum", 4}; UsageError naming --objective-weight otherwise.
std::pair<std::string, double> parse_objective_weight(const std::string& text);

}  // namespace vmatplan
