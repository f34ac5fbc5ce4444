#pragma once
// L2Plan: a coordinate-wise LSTM learned optimiser for fluence maps (Andrychowicz et al.,
// NeurIPS 2016: one small LSTM shared by every variable) with the mathematical structure
// of Liu et al., ICML 2023 ("math-L2O"): a learned positive preconditioner P and bias b on
// top of a projected gradient step,
//
//   u_t     = -alpha_t * P_t o g_t - b_t,      alpha_t = step_fraction * f_ref / max|g_t|
//   u_t    <- smoothing priors (optional): u + lambda * (discrete Laplacian of u) along
//             leaf rows and/or between neighbouring control points of one arc
//   x_{t+1} = clamp(x_t + u_t, 0, f_max)
//
// P_t = exp(max_log_p * tanh(p_t / max_log_p)) and b_t = bias_fraction * f_ref * tanh(b'_t),
// with (p_t, b'_t) a zero-initialised linear head on the LSTM state: at initialisation
// P = 1 and b = 0, so the model IS projected gradient descent (with the priors switched off).
// Per-coordinate inputs (all detached, scale-free): the gradient normalised by its RMS and
// preprocessed as (log|g|/p, sign g) (Andrychowicz et al. sec. 3.2, p = 10), its momentum
// likewise, x / f_max, the leaf-row and control-point Laplacians of x / f_ref, and t / T.
//
// Quasi-Newton term (qn_memory > 0): the L-BFGS direction d_t = -H_t g_t on the free
// variables (optimize/lbfgs_memory.h, built from the run's own steps, dropped when it is
// not a descent direction) enters twice: as two more inputs (d / RMS(d), preprocessed) and
// in the update, u_t += Q_t o d_t with Q_t = qn_max * tanh(q_t), q_t a third output of the
// same zero-initialised head. So with a zero head the model is still projected gradient
// descent; training decides how much of the curvature step each variable takes.
//
// Safeguard (inference): a step that raises the objective is never accepted; backtracking
// on the plain projected gradient step (alpha halved up to 10 times) replaces it, and when
// that also fails x stays. The scale that worked carries over (L2PlanState::step_scale).
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "vmatplan/learn/refine_problem.h"
#include "vmatplan/optimize/lbfgs_memory.h"

namespace vmatplan {

struct L2PlanArchitecture {
  int hidden = 16;
  bool row_prior = true;         // smooth the update along leaf rows
  bool cp_prior = true;          // smooth the update between neighbouring control points
  double prior_strength = 0.25;  // lambda of the priors (<= 0.25 keeps the filter positive)
  double step_fraction = 0.25;   // base step: the largest component moves by this x f_ref
  double max_log_preconditioner = 2.0;
  double bias_fraction = 0.02;
  double momentum = 0.9;
  int qn_memory = 0;             // L-BFGS pairs of the quasi-Newton term; 0 = no such term
  double qn_max = 1.0;           // largest |Q|
  static constexpr int kBaseFeatures = 8;
  int features() const { return kBaseFeatures + (qn_memory > 0 ? 2 : 0); }
  int outputs() const { return qn_memory > 0 ? 3 : 2; }
  nlohmann::json to_json() const;
  // InputError naming `source` on missing or bad keys.
  static L2PlanArchitecture from_json(const nlohmann::json& j, const std::string& source);
};

class L2PlanNetImpl : public torch::nn::Module {
 public:
  explicit L2PlanNetImpl(int hidden = 16, int features = L2PlanArchitecture::kBaseFeatures, int outputs = 2);
  explicit L2PlanNetImpl(const L2PlanArchitecture& arch) : L2PlanNetImpl(arch.hidden, arch.features(), arch.outputs()) {}
  // features [N, features] -> (preconditioner logit, bias logit[, quasi-Newton logit])
  // [N, outputs]; updates h, c.
  torch::Tensor forward(const torch::Tensor& features, torch::Tensor& h, torch::Tensor& c);
  int hidden() const { return hidden_; }

 private:
  int hidden_;
  torch::nn::LSTMCell lstm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(L2PlanNet);

// The optimiser's state across steps.
struct L2PlanState {
  torch::Tensor h, c, momentum;
  // Multiplies alpha_t. The safeguard sets it to the backtracking factor that worked and
  // doubles it (up to 1) after an accepted step, so that near an optimum the steps do not
  // start from a length that failed a step before; 1 in meta-training (no safeguard).
  double step_scale = 1.0;
  // The quasi-Newton term's curvature pairs and the last (x, g) they are taken from.
  LbfgsMemory qn;
  torch::Tensor previous_x, previous_g;
};

// One L2Plan update of x (not safeguarded). net may be empty (= projected gradient descent
// with the priors). The result is differentiable w.r.t. net's parameters and x (for
// meta-training); g is detached inside.
torch::Tensor l2plan_step(L2PlanNet net, const L2PlanArchitecture& arch, const RefineProblem& problem,
                          const torch::Tensor& x, const torch::Tensor& g, L2PlanState& state, int step,
                          int total_steps);

struct RefineTrace {
  std::vector<double> objective;  // the start, then after each step (accepted values)
  torch::Tensor x;                // final variables
  int fallbacks = 0;              // steps where the safeguard replaced the learned step
  int stalls = 0;                 // steps where nothing lowered the objective
  double seconds = 0;
};

// `steps` safeguarded L2Plan steps from x0 (net empty: projected gradient descent).
RefineTrace run_l2plan(L2PlanNet net, const L2PlanArchitecture& arch, const RefineProblem& problem,
                       const torch::Tensor& x0, int steps, bool safeguard = true);
// Projected Adam (Kingma & Ba 2015) with learning rate lr_fraction * f_ref (MU).
RefineTrace run_adam(const RefineProblem& problem, const torch::Tensor& x0, int steps, double lr_fraction);

// Weights as safetensors (parameter names as keys) + architecture in the metadata.
void save_l2plan_weights(L2PlanNet net, const L2PlanArchitecture& arch, const std::string& path);
// InputError naming the file for a missing, truncated or mismatched file.
L2PlanNet load_l2plan_weights(const std::string& path, L2PlanArchitecture* arch);

}  // namespace vmatplan
