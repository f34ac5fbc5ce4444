#pragma once
// Meta-training of the L2Plan optimiser (`vmatplan train l2plan`) and its model folder.
//
//   L2PlanTrainOptions o;  o.patients = {...};  o.out = "/work/cache/l2plan/run1";
//   L2PlanTrainResult r = train_l2plan(o);       // OUT/weights.safetensors + manifest.json
//   L2PlanModel m = load_l2plan_model("models/l2plan");
//
// Recipe (Andrychowicz et al. 2016; Liu et al. 2023 for the structure): each episode takes
// one training patient, RANDOMISES its protocol (objective weights x [1/3, 3] log-uniform,
// organ-at-risk dose limits x [0.85, 1.05], DVH volumes x [0.8, 1.2], the prescription and
// target levels x [0.9, 1.1]) so that the optimiser does not learn one objective, starts
// from `start_fluence` (the app passes the FMD student's fluence with a noise seed drawn
// per episode: `--start fmd`) or the conformal start, either with multiplicative noise
// (`start_noise`), and runs `steps` L2Plan steps without
// the safeguard in truncated unrolls of `unroll` steps. The meta-loss of an unroll is the
// mean of log(F(x_t) / F(x_0)) over its steps (log: scale-free across patients); its
// gradient flows through the updates, not through the gradient inputs (those are detached,
// as in Andrychowicz et al.). Adam on the meta-parameters, gradient norm clipped at 1.
// Episodes draw from a generator seeded by (seed, epoch, patient), so a run is
// deterministic on one thread and a resumed run continues exactly as an uninterrupted one.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/learn/l2plan_optimizer.h"

namespace vmatplan {

struct L2PlanTrainProgress {
  int epoch = 0, epochs = 0;      // 1-based current epoch
  int episode = 0, episodes = 0;  // within the epoch
  double meta_loss = 0;           // of the last episode
  double elapsed_s = 0, eta_s = 0;
};

// An episode's start fluence on the case's grid, from the training patient, its refine
// case (geometry, grid) and a seed drawn per episode.
using L2PlanStartFunction = std::function<FluenceMaps(const Patient&, const RefineCase&, uint64_t seed)>;

struct L2PlanTrainOptions {
  std::vector<std::string> patients;  // patient folders (load_patient)
  std::string out;                    // model folder (checkpoint/ inside while training)
  bool resume = false;
  uint64_t seed = 1;
  int epochs = 10;
  int unroll = 5;                     // K: steps per truncated unroll
  int steps = 20;                     // N: steps per episode
  double learning_rate = 1e-3;
  double start_noise = 0.3;           // start x (1 + U(-noise, noise)) per bixel
  std::string start = "conformal";    // the start's name (manifest, --resume identity)
  nlohmann::json start_info;          // what else identifies it (e.g. the FMD weights' sha256)
  L2PlanStartFunction start_fluence;  // empty: the conformal start
  bool use_predictor = false;         // meta-train on the dose predictor instead of the engine
  std::string protocol = "prostate_60gy_20fx";
  std::string machine = "generic_6mv_mlc120";
  L2PlanArchitecture arch;
  RefineCaseOptions cases;            // geometry, bixel, dose grid of the training cases
  int max_cached_cases = 8;           // keep engines in memory up to this many patients
  std::vector<std::string> command;   // recorded in the manifest
  std::function<void(const L2PlanTrainProgress&)> progress;
};

struct L2PlanTrainResult {
  int epochs_done = 0;
  std::vector<double> epoch_meta_loss;  // mean over the epoch's episodes
  std::string weights_path, manifest_path;
};

L2PlanTrainResult train_l2plan(const L2PlanTrainOptions& options);

// The protocol with randomised weights, limits and prescription (see the header comment).
Protocol randomise_protocol(const Protocol& protocol, std::mt19937_64& rng);

struct L2PlanModel {
  L2PlanNet net{nullptr};
  L2PlanArchitecture arch;
  nlohmann::json manifest;
};

// DIR/manifest.json + DIR/weights.safetensors: InputError naming the file when either is
// missing, the weights' sha256 differs from the manifest's (truncated or replaced), or the
// architecture does not match.
L2PlanModel load_l2plan_model(const std::string& dir);

}  // namespace vmatplan
