// L2Plan optimiser step, safeguarded run, Adam baseline and weight files
// (see l2plan_optimizer.h).
#include "vmatplan/learn/l2plan_optimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "vmatplan/core/error.h"
#include "vmatplan/core/stopwatch.h"
#include "vmatplan/core/safetensors.h"

namespace vmatplan {
namespace {

using Clock = SteadyClock;

// Andrychowicz et al. 2016, sec. 3.2: (log|v| / p, sign v) for |v| >= e^-p, else (-1, e^p v).
std::pair<torch::Tensor, torch::Tensor> preprocess(const torch::Tensor& v) {
  constexpr double p = 10.0;
  const double threshold = std::exp(-p);
  torch::Tensor big = v.abs() >= threshold;
  torch::Tensor a = torch::where(big, v.abs().clamp_min(threshold).log() / p, torch::full_like(v, -1.0));
  torch::Tensor b = torch::where(big, v.sign(), v * std::exp(p));
  return {a, b};
}

// Discrete Laplacian along leaf rows (dim 2), zero flux at the row ends.
torch::Tensor row_laplacian(const torch::Tensor& u) {
  if (u.size(2) < 2) return torch::zeros_like(u);
  torch::Tensor d = u.slice(2, 1) - u.slice(2, 0, -1);  // [C, R, B-1]
  torch::Tensor zero = torch::zeros_like(u.slice(2, 0, 1));
  return torch::cat({d, zero}, 2) - torch::cat({zero, d}, 2);
}

// Discrete Laplacian between neighbouring control points of one arc.
torch::Tensor cp_laplacian(const torch::Tensor& u, const torch::Tensor& pairs) {
  if (u.size(0) < 2) return torch::zeros_like(u);
  torch::Tensor d = (u.slice(0, 1) - u.slice(0, 0, -1)) * pairs;  // [C-1, R, B]
  torch::Tensor zero = torch::zeros_like(u.slice(0, 0, 1));
  return torch::cat({d, zero}, 0) - torch::cat({zero, d}, 0);
}

}  // namespace

nlohmann::json L2PlanArchitecture::to_json() const {
  return {{"hidden", hidden},
          {"row_prior", row_prior},
          {"cp_prior", cp_prior},
          {"prior_strength", prior_strength},
          {"step_fraction", step_fraction},
          {"max_log_preconditioner", max_log_preconditioner},
          {"bias_fraction", bias_fraction},
          {"momentum", momentum},
          {"qn_memory", qn_memory},
          {"qn_max", qn_max},
          {"features", features()}};
}

L2PlanArchitecture L2PlanArchitecture::from_json(const nlohmann::json& j, const std::string& source) {
  L2PlanArchitecture a;
  try {
    a.hidden = j.at("hidden").get<int>();
    a.row_prior = j.at("row_prior").get<bool>();
    a.cp_prior = j.at("cp_prior").get<bool>();
    a.prior_strength = j.at("prior_strength").get<double>();
    a.step_fraction = j.at("step_fraction").get<double>();
    a.max_log_preconditioner = j.at("max_log_preconditioner").get<double>();
    a.bias_fraction = j.at("bias_fraction").get<double>();
    a.momentum = j.at("momentum").get<double>();
    a.qn_memory = j.value("qn_memory", 0);  // absent in models made before the term existed
    a.qn_max = j.value("qn_max", 1.0);
    if (j.at("features").get<int>() != a.features())
      throw InputError(source, "L2Plan architecture: features must be " + std::to_string(a.features()));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("L2Plan architecture: ") + e.what());
  }
  if (a.hidden < 1 || a.hidden > 1024) throw InputError(source, "L2Plan architecture: hidden out of range");
  if (a.qn_memory < 0 || a.qn_memory > 100 || !(a.qn_max > 0))
    throw InputError(source, "L2Plan architecture: qn_memory or qn_max out of range");
  return a;
}

L2PlanNetImpl::L2PlanNetImpl(int hidden, int features, int outputs) : hidden_(hidden) {
  lstm = register_module("lstm", torch::nn::LSTMCell(features, hidden));
  head = register_module("head", torch::nn::Linear(hidden, outputs));
  // Zero head: P = 1, b = 0 (and Q = 0) at initialisation (projected gradient descent).
  torch::NoGradGuard ng;
  head->weight.zero_();
  head->bias.zero_();
}

torch::Tensor L2PlanNetImpl::forward(const torch::Tensor& features, torch::Tensor& h, torch::Tensor& c) {
  auto hc = lstm->forward(features, std::make_tuple(h, c));
  h = std::get<0>(hc);
  c = std::get<1>(hc);
  return head->forward(h);
}

torch::Tensor l2plan_step(L2PlanNet net, const L2PlanArchitecture& arch, const RefineProblem& problem,
                          const torch::Tensor& x, const torch::Tensor& g_in, L2PlanState& state, int step,
                          int total_steps) {
  const double f_ref = problem.f_ref_mu(), f_max = problem.f_max_mu();
  torch::Tensor g = g_in.detach().to(torch::kFloat);
  const double gmax = g.abs().max().item<double>();
  const double alpha = gmax > 0 ? state.step_scale * arch.step_fraction * f_ref / gmax : 0.0;
  // The quasi-Newton direction on the free variables, from this run's steps (see the header).
  torch::Tensor qn_direction;
  if (arch.qn_memory > 0) {
    const torch::Tensor xd = x.detach().to(torch::kFloat);
    if (state.previous_x.defined()) state.qn.add(xd - state.previous_x, g - state.previous_g);
    else state.qn = LbfgsMemory(arch.qn_memory);
    state.previous_x = xd;
    state.previous_g = g;
    const torch::Tensor free = free_mask(xd, g, f_max).to(torch::kFloat);
    qn_direction = state.qn.empty() ? torch::zeros_like(g) : -state.qn.inverse_hessian_times(g * free, 0.0) * free;
    if ((qn_direction * g).sum().item<double>() >= 0) qn_direction = torch::zeros_like(g);  // not a descent direction
  }
  torch::Tensor u;
  if (net) {
    const double grms = std::sqrt(g.pow(2).mean().item<double>()) + 1e-30;
    torch::Tensor gn = g / grms;
    if (!state.momentum.defined()) state.momentum = torch::zeros_like(gn);
    state.momentum = arch.momentum * state.momentum + (1 - arch.momentum) * gn;
    torch::Tensor xd = x.detach();
    auto [g1, g2] = preprocess(gn);
    auto [m1, m2] = preprocess(state.momentum);
    std::vector<torch::Tensor> inputs = {g1, g2, m1, m2, xd / f_max, row_laplacian(xd) / f_ref,
                                         cp_laplacian(xd, problem.cp_pairs()) / f_ref,
                                         torch::full_like(xd, double(step) / std::max(1, total_steps))};
    if (qn_direction.defined()) {
      const double drms = std::sqrt(qn_direction.pow(2).mean().item<double>()) + 1e-30;
      auto [d1, d2] = preprocess(qn_direction / drms);
      inputs.push_back(d1);
      inputs.push_back(d2);
    }
    torch::Tensor features = torch::stack(inputs, -1).view({-1, arch.features()});
    if (!state.h.defined()) {
      state.h = torch::zeros({features.size(0), net->hidden()});
      state.c = torch::zeros({features.size(0), net->hidden()});
    }
    torch::Tensor out = net->forward(features, state.h, state.c).view({x.size(0), x.size(1), x.size(2), arch.outputs()});
    const double mlp = arch.max_log_preconditioner;
    torch::Tensor precond = torch::exp(mlp * torch::tanh(out.select(-1, 0) / mlp));
    torch::Tensor bias = arch.bias_fraction * f_ref * torch::tanh(out.select(-1, 1));
    u = -alpha * precond * g - bias;
    if (qn_direction.defined()) u = u + arch.qn_max * torch::tanh(out.select(-1, 2)) * qn_direction;
  } else {
    u = -alpha * g;
  }
  if (arch.row_prior) u = u + arch.prior_strength * row_laplacian(u);
  if (arch.cp_prior) u = u + arch.prior_strength * cp_laplacian(u, problem.cp_pairs());
  return (x + u).clamp(0.0, f_max);
}

RefineTrace run_l2plan(L2PlanNet net, const L2PlanArchitecture& arch, const RefineProblem& problem,
                       const torch::Tensor& x0, int steps, bool safeguard) {
  torch::NoGradGuard ng;
  const auto t0 = Clock::now();
  RefineTrace trace;
  torch::Tensor x = x0.detach().to(torch::kFloat).clamp(0.0, problem.f_max_mu());
  torch::Tensor g;
  double f = problem.value_and_grad(x, &g);
  trace.objective.push_back(f);
  L2PlanState state;
  for (int t = 0; t < steps; ++t) {
    torch::Tensor x_new = l2plan_step(net, arch, problem, x, g, state, t, steps);
    torch::Tensor g_new;
    double f_new = problem.value_and_grad(x_new, &g_new);
    if (safeguard && !(f_new <= f)) {
      ++trace.fallbacks;
      const double gmax = g.abs().max().item<double>();
      const double alpha0 = gmax > 0 ? arch.step_fraction * problem.f_ref_mu() / gmax : 0.0;
      double scale = state.step_scale;
      bool accepted = false;
      for (int k = 0; k < 10 && alpha0 > 0; ++k, scale *= 0.5) {
        x_new = (x - scale * alpha0 * g).clamp(0.0, problem.f_max_mu());
        f_new = problem.value_and_grad(x_new, &g_new);
        if (f_new < f) {
          accepted = true;
          break;
        }
      }
      state.step_scale = scale;
      if (!accepted) {
        ++trace.stalls;
        trace.objective.push_back(f);
        continue;
      }
    } else {
      state.step_scale = std::min(1.0, 2.0 * state.step_scale);
    }
    x = x_new;
    g = g_new;
    f = f_new;
    trace.objective.push_back(f);
  }
  trace.x = x;
  trace.seconds = seconds_since(t0);
  return trace;
}

RefineTrace run_adam(const RefineProblem& problem, const torch::Tensor& x0, int steps, double lr_fraction) {
  torch::NoGradGuard ng;
  const auto t0 = Clock::now();
  RefineTrace trace;
  const double lr = lr_fraction * problem.f_ref_mu(), beta1 = 0.9, beta2 = 0.999, eps = 1e-12;
  torch::Tensor x = x0.detach().to(torch::kFloat).clamp(0.0, problem.f_max_mu());
  torch::Tensor m = torch::zeros_like(x), v = torch::zeros_like(x), g;
  trace.objective.push_back(problem.value_and_grad(x, &g));
  for (int t = 1; t <= steps; ++t) {
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    torch::Tensor mhat = m / (1 - std::pow(beta1, t)), vhat = v / (1 - std::pow(beta2, t));
    x = (x - lr * mhat / (vhat.sqrt() + eps)).clamp(0.0, problem.f_max_mu());
    trace.objective.push_back(problem.value_and_grad(x, &g));
  }
  trace.x = x;
  trace.seconds = seconds_since(t0);
  return trace;
}

void save_l2plan_weights(L2PlanNet net, const L2PlanArchitecture& arch, const std::string& path) {
  SafeTensorsFile file;
  file.metadata["format"] = "vmatplan-l2plan";
  file.metadata["architecture"] = arch.to_json().dump();
  for (const auto& p : net->named_parameters()) {
    torch::Tensor t = p.value().detach().to(torch::kFloat).contiguous();
    std::vector<float> v(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    file.add_f32(p.key(), t.sizes().vec(), v);
  }
  write_safetensors(file, path);
}

L2PlanNet load_l2plan_weights(const std::string& path, L2PlanArchitecture* arch) {
  const SafeTensorsFile file = read_safetensors(path);
  auto meta = file.metadata.find("architecture");
  if (file.metadata.count("format") == 0 || file.metadata.at("format") != "vmatplan-l2plan" || meta == file.metadata.end())
    throw InputError(path, "not an L2Plan weight file (metadata format/architecture missing)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(meta->second);
  } catch (const nlohmann::json::exception&) {
    throw InputError(path, "unreadable architecture metadata");
  }
  L2PlanArchitecture a = L2PlanArchitecture::from_json(j, path);
  L2PlanNet net(a);
  torch::NoGradGuard ng;
  for (auto& p : net->named_parameters()) {
    auto it = file.tensors.find(p.key());
    if (it == file.tensors.end()) throw InputError(path, "tensor '" + p.key() + "' is missing");
    const SafeTensor& st = it->second;
    if (st.dtype != "F32" || st.shape != p.value().sizes().vec())
      throw InputError(path, "tensor '" + p.key() + "' has the wrong dtype or shape");
    std::vector<float> v = st.as<float>();
    p.value().copy_(torch::tensor(v, torch::kFloat).view(p.value().sizes()));
  }
  if (file.tensors.size() != net->named_parameters().size())
    throw InputError(path, "unexpected tensors beside the L2Plan parameters");
  if (arch) *arch = a;
  return net;
}

}  // namespace vmatplan
