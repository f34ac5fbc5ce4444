// Meta-training of L2Plan, checkpoints and the model folder (see l2plan_training.h).
#include "vmatplan/learn/l2plan_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/io/patient_loader.h"

namespace fs = std::filesystem;

namespace vmatplan {
namespace {

using Clock = std::chrono::steady_clock;

// Adam on the meta-parameters (Kingma & Ba 2015), kept here so that its state is plain
// tensors that a checkpoint can hold.
struct MetaAdam {
  std::vector<torch::Tensor> m, v;
  int64_t step = 0;
  void update(const std::vector<torch::Tensor>& params, double lr) {
    torch::NoGradGuard ng;
    if (m.empty())
      for (const auto& p : params) {
        m.push_back(torch::zeros_like(p));
        v.push_back(torch::zeros_like(p));
      }
    ++step;
    const double b1 = 0.9, b2 = 0.999;
    for (size_t i = 0; i < params.size(); ++i) {
      if (!params[i].grad().defined()) continue;
      const torch::Tensor g = params[i].grad();
      m[i].mul_(b1).add_(g, 1 - b1);
      v[i].mul_(b2).addcmul_(g, g, 1 - b2);
      const double c1 = 1 - std::pow(b1, double(step)), c2 = 1 - std::pow(b2, double(step));
      params[i].sub_(lr * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8));
    }
  }
};

std::vector<float> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Writes `path` atomically (stage file + rename).
template <class Writer>
void write_atomic(const std::string& path, Writer writer) {
  StagedOutput stage(path, StagedOutput::Kind::kFile, true);
  writer(stage.path());
  stage.commit();
}

void write_json(const std::string& path, const nlohmann::json& j) {
  write_atomic(path, [&](const std::string& p) {
    std::ofstream f(p);
    f << j.dump(2) << "\n";
    if (!f) throw InputError(p, "cannot write");
  });
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError(path, "missing or unreadable");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, std::string("not valid JSON (") + e.what() + ")");
  }
}

// What must match for --resume to continue the same run.
nlohmann::json run_identity(const L2PlanTrainOptions& o) {
  return {{"patients", o.patients},   {"seed", o.seed},
          {"unroll", o.unroll},       {"steps", o.steps},
          {"learning_rate", o.learning_rate}, {"start_noise", o.start_noise},
          {"start", o.start},         {"start_info", o.start_info},
          {"use_predictor", o.use_predictor}, {"protocol", o.protocol},
          {"machine", o.machine},     {"architecture", o.arch.to_json()},
          {"bixel_mm", o.cases.plan.bixel_width_mm}, {"dose_spacing_mm", o.cases.plan.dose_spacing_mm},
          {"arcs", o.cases.plan.arcs.size()}};
}

struct TrainingCase {
  Patient patient;
  RefineCase refine;
};

struct Checkpoint {
  int epochs_done = 0;
  std::vector<double> epoch_meta_loss;
};

void save_checkpoint(const std::string& dir, L2PlanNet net, const L2PlanArchitecture& arch, const MetaAdam& adam,
                     const L2PlanTrainOptions& o, const Checkpoint& c) {
  fs::create_directories(dir);
  const std::string w = dir + "/weights.safetensors", a = dir + "/optimizer.safetensors";
  write_atomic(w, [&](const std::string& p) { save_l2plan_weights(net, arch, p); });
  write_atomic(a, [&](const std::string& p) {
    SafeTensorsFile f;
    f.metadata["step"] = std::to_string(adam.step);
    for (size_t i = 0; i < adam.m.size(); ++i) {
      f.add_f32("m." + std::to_string(i), adam.m[i].sizes().vec(), to_vector(adam.m[i]));
      f.add_f32("v." + std::to_string(i), adam.v[i].sizes().vec(), to_vector(adam.v[i]));
    }
    write_safetensors(f, p);
  });
  // state.json last: it names the files' digests, so a kill between writes is detected.
  write_json(dir + "/state.json", {{"epochs_done", c.epochs_done},
                                   {"epoch_meta_loss", c.epoch_meta_loss},
                                   {"run", run_identity(o)},
                                   {"weights_sha256", sha256_file_hex(w)},
                                   {"optimizer_sha256", sha256_file_hex(a)}});
}

Checkpoint load_checkpoint(const std::string& dir, L2PlanNet& net, MetaAdam& adam, const L2PlanTrainOptions& o) {
  const std::string state_path = dir + "/state.json";
  const nlohmann::json s = read_json(state_path);
  if (s.value("run", nlohmann::json()) != run_identity(o))
    throw UsageError("--resume: " + state_path + " was written by a run with other options (patients, seed, "
                     "unroll, steps, architecture...); use a new --out or the same options");
  const std::string w = dir + "/weights.safetensors", a = dir + "/optimizer.safetensors";
  if (sha256_file_hex(w) != s.at("weights_sha256").get<std::string>())
    throw InputError(w, "sha256 differs from state.json (truncated or replaced)");
  if (sha256_file_hex(a) != s.at("optimizer_sha256").get<std::string>())
    throw InputError(a, "sha256 differs from state.json (truncated or replaced)");
  L2PlanArchitecture arch;
  net = load_l2plan_weights(w, &arch);
  const SafeTensorsFile f = read_safetensors(a);
  adam.step = std::stoll(f.metadata.at("step"));
  adam.m.clear();
  adam.v.clear();
  for (size_t i = 0; f.tensors.count("m." + std::to_string(i)); ++i) {
    for (auto* dst : {&adam.m, &adam.v}) {
      const SafeTensor& t = f.get((dst == &adam.m ? "m." : "v.") + std::to_string(i));
      dst->push_back(torch::tensor(t.as<float>(), torch::kFloat).view(t.shape));
    }
  }
  Checkpoint c;
  c.epochs_done = s.at("epochs_done").get<int>();
  c.epoch_meta_loss = s.at("epoch_meta_loss").get<std::vector<double>>();
  return c;
}

// One episode: randomised protocol, start (FMD with this episode's seed, or conformal) with
// noise, `steps` steps in unrolls of `unroll`.
double run_episode(const L2PlanTrainOptions& o, L2PlanNet net, MetaAdam& adam, const TrainingCase& tc,
                   const Protocol& base, const Machine& machine, const StructureRoles& roles,
                   std::mt19937_64& rng) {
  const Protocol protocol = randomise_protocol(base, rng);
  auto objective = std::make_shared<const PlanObjective>(tc.patient, protocol, roles, tc.refine.engine->dose_grid(),
                                                         tc.refine.engine->compute_voxels());
  FluenceMaps start = tc.refine.conformal_start;
  if (o.start_fluence) {
    start = o.start_fluence(tc.patient, tc.refine, rng());
    if (start.values.size() != tc.refine.conformal_start.values.size())
      throw ProcessingError("train l2plan: the " + o.start + " start has " + std::to_string(start.values.size()) +
                            " fluence values, the plan grid " + std::to_string(tc.refine.conformal_start.values.size()));
  }
  std::uniform_real_distribution<double> noise(1.0 - o.start_noise, 1.0 + o.start_noise);
  for (float& v : start.values) v = static_cast<float>(v * noise(rng));
  const FluenceOptimizerOptions weights = protocol_optimizer_options(o.cases.plan.optimizer, protocol, machine);
  RefineProblem problem(o.use_predictor ? tc.refine.predictor_dose() : tc.refine.engine_dose(), objective,
                        tc.refine.geometry, start, weights);
  std::vector<torch::Tensor> params = net->parameters();
  torch::Tensor x = problem.start();
  const double f0 = problem.value_only(x);
  L2PlanState state;
  double episode_loss = 0;
  int unrolls = 0;
  for (int t0 = 0; t0 < o.steps; t0 += o.unroll) {
    x = x.detach().requires_grad_(true);
    if (state.h.defined()) {
      state.h = state.h.detach();
      state.c = state.c.detach();
    }
    torch::Tensor f = problem.value(x);
    torch::Tensor loss = torch::zeros({}, torch::kDouble);
    const int k_end = std::min(o.steps, t0 + o.unroll);
    for (int t = t0; t < k_end; ++t) {
      torch::Tensor g = torch::autograd::grad({f}, {x}, {}, /*retain_graph=*/true)[0].detach();
      x = l2plan_step(net, o.arch, problem, x, g, state, t, o.steps);
      f = problem.value(x);
      loss = loss + torch::log(f / f0);
    }
    loss = loss / double(k_end - t0);
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    adam.update(params, o.learning_rate);
    episode_loss += loss.item<double>();
    ++unrolls;
  }
  return episode_loss / std::max(1, unrolls);
}

}  // namespace

Protocol randomise_protocol(const Protocol& protocol, std::mt19937_64& rng) {
  Protocol p = protocol;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double rx_scale = 0.9 + 0.2 * u(rng);
  std::vector<std::string> target_roles;
  for (TargetLevel& t : p.prescription.targets) {
    t.dose_gy *= rx_scale;
    target_roles.push_back(t.role);
  }
  p.prescription.total_dose_gy *= rx_scale;
  p.prescription.normalisation.value_gy *= rx_scale;
  for (ObjectiveSpec& s : p.objectives) {
    s.weight *= std::exp(std::log(3.0) * (2 * u(rng) - 1));
    const bool target = std::find(target_roles.begin(), target_roles.end(), s.role) != target_roles.end();
    if (s.kind == ObjectiveKind::kFallOff) continue;
    if (target) {
      s.dose_gy *= rx_scale;
    } else {
      s.dose_gy *= 0.85 + 0.2 * u(rng);
      if (s.volume_pct > 0) s.volume_pct = std::clamp(s.volume_pct * (0.8 + 0.4 * u(rng)), 1.0, 99.0);
    }
  }
  return p;
}

L2PlanTrainResult train_l2plan(const L2PlanTrainOptions& o) {
  if (o.patients.empty()) throw UsageError("train l2plan: no training patients (--patients or --data)");
  if (o.out.empty()) throw UsageError("train l2plan: --out is required");
  if (o.unroll < 1 || o.steps < 1 || o.epochs < 1) throw UsageError("train l2plan: --unroll, --steps and --epochs must be >= 1");
  const std::string ckpt = o.out + "/checkpoint";
  if (!o.resume && fs::exists(ckpt + "/state.json"))
    throw UsageError("train l2plan: " + ckpt + " exists; pass --resume to continue that run or choose another --out");
  fs::create_directories(o.out);

  torch::manual_seed(o.seed);
  L2PlanNet net(o.arch);
  MetaAdam adam;
  Checkpoint ck;
  if (o.resume && fs::exists(ckpt + "/state.json")) ck = load_checkpoint(ckpt, net, adam, o);

  const Protocol base = load_protocol(o.protocol);
  Machine machine = Machine::load_named(o.machine);
  machine.max_cp_spacing_deg = std::max(machine.max_cp_spacing_deg, o.cases.plan.arcs.empty() ? 0.0 : o.cases.plan.arcs.front().cp_spacing_deg);
  const StructureRoles roles = StructureRoles::load_default();
  RefineCaseOptions co = o.cases;
  co.build_predictor = o.use_predictor;
  std::map<size_t, std::shared_ptr<TrainingCase>> cache;
  auto training_case = [&](size_t i) {
    auto it = cache.find(i);
    if (it != cache.end()) return it->second;
    auto tc = std::make_shared<TrainingCase>();
    tc->patient = load_patient(o.patients[i]);
    tc->refine = make_refine_case(tc->patient, base, machine, roles, co);
    if (static_cast<int>(o.patients.size()) <= o.max_cached_cases) cache[i] = tc;
    return tc;
  };

  const auto t0 = Clock::now();
  const int episodes = static_cast<int>(o.patients.size());
  int done_now = 0;
  const int todo = (o.epochs - ck.epochs_done) * episodes;
  for (int epoch = ck.epochs_done + 1; epoch <= o.epochs; ++epoch) {
    double sum = 0;
    for (int e = 0; e < episodes; ++e) {
      std::mt19937_64 rng(o.seed * 1000003ULL + static_cast<uint64_t>(epoch) * 7919ULL + static_cast<uint64_t>(e));
      const double loss = run_episode(o, net, adam, *training_case(static_cast<size_t>(e)), base, machine, roles, rng);
      if (!std::isfinite(loss)) throw ProcessingError("train l2plan: meta-loss is not finite (epoch " +
                                                      std::to_string(epoch) + ", " + o.patients[static_cast<size_t>(e)] + ")");
      sum += loss;
      ++done_now;
      if (o.progress) {
        const double el = std::chrono::duration<double>(Clock::now() - t0).count();
        o.progress({epoch, o.epochs, e + 1, episodes, loss, el, el / done_now * (todo - done_now)});
      }
    }
    ck.epoch_meta_loss.push_back(sum / episodes);
    ck.epochs_done = epoch;
    save_checkpoint(ckpt, net, o.arch, adam, o, ck);
  }

  L2PlanTrainResult r;
  r.epochs_done = ck.epochs_done;
  r.epoch_meta_loss = ck.epoch_meta_loss;
  r.weights_path = o.out + "/weights.safetensors";
  r.manifest_path = o.out + "/manifest.json";
  write_atomic(r.weights_path, [&](const std::string& p) { save_l2plan_weights(net, o.arch, p); });
  nlohmann::json manifest = {
      {"format", "vmatplan-l2plan"},
      {"format_version", 1},
      {"architecture", o.arch.to_json()},
      {"weights", {{"file", "weights.safetensors"}, {"sha256", sha256_file_hex(r.weights_path)}}},
      {"training",
       {{"run", run_identity(o)},
        {"epochs", ck.epochs_done},
        {"randomisation", "weights x [1/3,3] log-uniform; OAR limits x [0.85,1.05]; DVH volumes x [0.8,1.2]; "
                          "prescription x [0.9,1.1]"},
        {"start", o.start + " start x (1 + U(-noise, noise)), noise " + std::to_string(o.start_noise) +
                      (o.start_fluence ? "; FMD noise seed drawn per episode" : "")},
        {"meta_loss", "mean over unroll steps of log(F(x_t)/F(x_0))"}}},
      {"commands", {o.command}},
      {"metrics", {{"epoch_meta_loss", ck.epoch_meta_loss}, {"benchmark", nullptr}}},
      {"note", "reference plans are optimiser-made on synthetic phantoms, not clinical plans"}};
  write_json(r.manifest_path, manifest);
  return r;
}

L2PlanModel load_l2plan_model(const std::string& dir) {
  const std::string manifest_path = dir + "/manifest.json";
  if (!fs::exists(manifest_path))
    throw InputError(manifest_path, "missing: no L2Plan model here (train one with `vmatplan train l2plan`)");
  L2PlanModel m;
  m.manifest = read_json(manifest_path);
  if (m.manifest.value("format", "") != "vmatplan-l2plan")
    throw InputError(manifest_path, "not an L2Plan manifest (format is not vmatplan-l2plan)");
  std::string file, sha;
  try {
    file = m.manifest.at("weights").at("file").get<std::string>();
    sha = m.manifest.at("weights").at("sha256").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(manifest_path, "weights.file / weights.sha256 missing");
  }
  const std::string weights = dir + "/" + file;
  if (!fs::exists(weights)) throw InputError(weights, "missing (named by " + manifest_path + ")");
  if (sha256_file_hex(weights) != sha) throw InputError(weights, "sha256 differs from the manifest (truncated or replaced)");
  m.net = load_l2plan_weights(weights, &m.arch);
  if (m.arch.to_json() != L2PlanArchitecture::from_json(m.manifest.value("architecture", nlohmann::json::object()), manifest_path).to_json())
    throw InputError(manifest_path, "architecture differs from the weight file's");
  return m;
}

}  // namespace vmatplan
