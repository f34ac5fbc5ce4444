// FMD model folders: safetensors weights + manifest.json, with checks (fmd_model_io.h).
#include "vmatplan/learn/fmd_model_io.h"

#include <filesystem>
#include <fstream>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/core/source_commit.h"
#include "vmatplan/core/staged_output.h"

namespace vmatplan {
namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::map<std::string, torch::Tensor> named_tensors(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> t;
  for (const auto& p : module.named_parameters()) t[p.key()] = p.value();
  for (const auto& b : module.named_buffers()) t[b.key()] = b.value();
  return t;
}

}  // namespace

SafeTensorsFile module_to_safetensors(const torch::nn::Module& module) {
  SafeTensorsFile f;
  for (const auto& [name, t] : named_tensors(module)) {
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    f.add_f32(name, c.sizes().vec(), std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
  }
  return f;
}

void load_module_from_safetensors(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& path) {
  const auto tensors = named_tensors(module);
  for (const auto& [name, st] : file.tensors)
    if (!tensors.count(name)) throw InputError(path, "unexpected tensor '" + name + "' (another network version?)");
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) throw InputError(path, "tensor '" + name + "' missing");
    if (it->second.dtype != "F32" || it->second.shape != t.sizes().vec())
      throw InputError(path, "tensor '" + name + "' is " + it->second.dtype + " " + shape_text(it->second.shape) +
                                 ", the network expects F32 " + shape_text(t.sizes().vec()));
    std::vector<float> v = it->second.as<float>();
    t.copy_(torch::from_blob(v.data(), t.sizes(), torch::kFloat32).to(t.device()));
  }
}

nlohmann::json write_network_file(const torch::nn::Module& module, const std::string& path) {
  StagedOutput out(path, StagedOutput::Kind::kFile, true);
  write_safetensors(module_to_safetensors(module), out.path());
  const auto bytes = static_cast<int64_t>(fs::file_size(out.path()));
  const std::string sha = sha256_file_hex(out.path());
  out.commit();
  int64_t parameters = 0;
  for (const auto& p : module.parameters()) parameters += p.numel();
  return {{"file", fs::path(path).filename().string()}, {"bytes", bytes}, {"sha256", sha}, {"parameters", parameters}};
}

void write_fmd_manifest(const std::string& dir, const nlohmann::json& manifest) {
  const std::string path = (fs::path(dir) / kFmdManifestName).string();
  StagedOutput out(path, StagedOutput::Kind::kFile, true);
  {
    std::ofstream f(out.path(), std::ios::binary);
    f << manifest.dump(2) << "\n";
    if (!f) throw InputError(path, "cannot write");
  }
  out.commit();
}

std::string source_code_commit() { return VMATPLAN_SOURCE_COMMIT; }

LoadedFmdNetwork load_fmd_network(const std::string& dir, const std::string& role, int expected_version,
                                  const FmdCanvas& expected_canvas) {
  const std::string manifest_path = (fs::path(dir) / kFmdManifestName).string();
  if (!fs::exists(manifest_path))
    throw InputError(manifest_path, "no FMD model here (train one: docs/fmd.md, or pass --weights DIR)");
  LoadedFmdNetwork l;
  l.manifest = read_json_file(manifest_path, "FMD model manifest");
  const nlohmann::json& m = l.manifest;
  if (m.value("format", "") != kFmdModelFormat || m.value("format_version", 0) != kFmdModelFormatVersion)
    throw InputError(manifest_path, std::string("not a ") + kFmdModelFormat + " version " +
                                        std::to_string(kFmdModelFormatVersion) + " manifest");
  if (!m.contains("networks") || !m["networks"].contains(role))
    throw InputError(manifest_path, "lists no '" + role + "' network");
  l.canvas = FmdCanvas::from_json(m.value("canvas", nlohmann::json::object()), manifest_path);
  if (l.canvas != expected_canvas)
    throw InputError(manifest_path, "canvas " + l.canvas.to_json().dump() + " differs from this build's " +
                                        expected_canvas.to_json().dump());
  const int version = m.value("training_set_version", 0);
  if (version != expected_version)
    throw InputError(manifest_path, "trained on training-set version " + std::to_string(version) +
                                        ", this build's planner makes version " + std::to_string(expected_version) +
                                        " (retrain: docs/fmd.md)");
  l.edm = EdmConfig::from_json(m.value("edm", nlohmann::json::object()));
  l.entry = m["networks"][role];
  l.config = FmdNetworkConfig::from_json(l.entry.value("architecture", nlohmann::json::object()), manifest_path);
  l.weights_path = (fs::path(dir) / l.entry.value("file", role + ".safetensors")).string();
  std::error_code ec;
  const auto bytes = fs::file_size(l.weights_path, ec);
  if (ec) throw InputError(l.weights_path, "weights file missing: " + ec.message());
  const int64_t expected_bytes = l.entry.value("bytes", int64_t(-1));
  if (static_cast<int64_t>(bytes) != expected_bytes)
    throw InputError(l.weights_path, std::to_string(bytes) + " bytes, " + manifest_path + " says " +
                                         std::to_string(expected_bytes) + " (truncated or replaced)");
  l.weights_sha256 = sha256_file_hex(l.weights_path);
  if (l.weights_sha256 != l.entry.value("sha256", ""))
    throw InputError(l.weights_path, "SHA-256 differs from " + manifest_path);
  l.net = FmdUNet(l.config);
  load_module_from_safetensors(*l.net, read_safetensors(l.weights_path), l.weights_path);
  l.net->eval();
  return l;
}

}  // namespace vmatplan
