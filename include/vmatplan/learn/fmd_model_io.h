#pragma once
// FMD model folders (models/fmd/, or a training run's --out): networks as safetensors plus
// manifest.json (docs/fmd.md, "Model folder"): canvas, normalisation, EDM constants,
// training-set version and data identity, per network its file, size, SHA-256,
// architecture, parameter count, training command/seed/epochs and metrics, code commit.
//
//   nlohmann::json entry = write_network_file(net, dir + "/teacher.safetensors");
//   LoadedFmdNetwork t = load_fmd_network(dir, "teacher", kTrainingSetVersion, FmdCanvas{});
//   t.net->forward(...);
//
// Every way a model folder can be wrong is an InputError naming the file: no manifest, a
// network the manifest does not list, a missing or truncated weights file, a SHA-256 that
// differs, a tensor missing, extra or of another shape, a canvas other than this build's,
// or data of another training-set version.
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "vmatplan/core/safetensors.h"
#include "vmatplan/learn/edm.h"
#include "vmatplan/learn/fmd_canvas.h"
#include "vmatplan/learn/fmd_network.h"

namespace vmatplan {

inline constexpr const char* kFmdManifestName = "manifest.json";
inline constexpr const char* kFmdModelFormat = "vmatplan-fmd-model";
inline constexpr int kFmdModelFormatVersion = 1;

// Parameters and buffers by their registered names, as F32 on the CPU.
SafeTensorsFile module_to_safetensors(const torch::nn::Module& module);
// Copies a file's tensors into the module's parameters; InputError naming `path` when a
// name is missing or extra or a shape differs.
void load_module_from_safetensors(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& path);

// Writes the module's weights atomically; returns {file (name only), bytes, sha256,
// parameters}.
nlohmann::json write_network_file(const torch::nn::Module& module, const std::string& path);
// Writes DIR/manifest.json atomically.
void write_fmd_manifest(const std::string& dir, const nlohmann::json& manifest);

// The commit of the source tree this binary was built from (`git rev-parse HEAD` when it
// was built, "-dirty" appended for uncommitted changes), or "unknown" without git.
std::string source_code_commit();

struct LoadedFmdNetwork {
  FmdUNet net{nullptr};
  FmdNetworkConfig config;
  EdmConfig edm;
  FmdCanvas canvas;
  nlohmann::json manifest;
  nlohmann::json entry;         // manifest["networks"][role]
  std::string weights_path, weights_sha256;
};
// Loads network `role` ("teacher", "student") of the model folder `dir` on the CPU in
// eval mode, with every check above.
LoadedFmdNetwork load_fmd_network(const std::string& dir, const std::string& role,
                                  int expected_training_set_version, const FmdCanvas& expected_canvas);

}  // namespace vmatplan
