// Reading `batch --training-set` folders for FMD training (see fmd_dataset.h).
#include "vmatplan/learn/fmd_dataset.h"

#include <cmath>
#include <filesystem>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/geometry/bev_conditioning.h"

namespace vmatplan {
namespace fs = std::filesystem;

namespace {

const std::string& meta(const SafeTensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw InputError(path, "training example has no metadata '" + key + "'");
  return it->second;
}

double meta_number(const SafeTensorsFile& f, const std::string& key, const std::string& path) {
  try {
    return std::stod(meta(f, key, path));
  } catch (const std::logic_error&) {
    throw InputError(path, "metadata '" + key + "' is not a number");
  }
}

const SafeTensor& tensor(const SafeTensorsFile& f, const std::string& name, const std::string& path,
                         const std::vector<int64_t>& shape, const char* dtype) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw InputError(path, "training example has no tensor '" + name + "'");
  if (it->second.dtype != dtype || it->second.shape != shape)
    throw InputError(path, "tensor '" + name + "' has an unexpected dtype or shape");
  return it->second;
}

// The arcs of one example file.
std::vector<FmdArc> read_example(const std::string& path, int expected_version) {
  const SafeTensorsFile f = read_safetensors(path);
  if (meta(f, "format", path) != "vmatplan-training-example")
    throw InputError(path, "not a vmatplan training example");
  const int version = static_cast<int>(meta_number(f, "format_version", path));
  if (version != expected_version)
    throw InputError(path, "training example version " + std::to_string(version) + ", this build reads version " +
                               std::to_string(expected_version) + " (regenerate the data)");
  FluenceGrid grid;
  grid.bixel_width_mm = meta_number(f, "bixel_width_mm", path);
  grid.x_min_mm = meta_number(f, "x_min_mm", path);
  grid.bixel_count = static_cast<int>(meta_number(f, "bixel_count", path));
  grid.first_leaf_pair = static_cast<int>(meta_number(f, "first_leaf_pair", path));
  try {
    grid.row_edges_mm = nlohmann::json::parse(meta(f, "leaf_row_edges_mm", path)).get<std::vector<double>>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(path, "metadata 'leaf_row_edges_mm' is not a JSON list of numbers");
  }
  const int cps = static_cast<int>(meta_number(f, "control_points", path));
  const double rx_gy = meta_number(f, "prescription_dose_gy", path);
  const double fractions = meta_number(f, "fractions", path);
  if (cps < 1 || grid.row_count() < 1 || grid.bixel_count < 1 || !(rx_gy > 0) || !(fractions >= 1))
    throw InputError(path, "training example has an empty grid or no prescription");
  const int rows = grid.row_count(), bixels = grid.bixel_count, k = kBevChannelCount;
  const auto cond = tensor(f, "conditioning", path, {cps, k, rows, bixels}, "F32").as<float>();
  const auto fluence = tensor(f, "fluence", path, {cps, rows, bixels}, "F32").as<float>();
  const auto gantry = tensor(f, "gantry_deg", path, {cps}, "F32").as<float>();
  const auto beam = tensor(f, "beam_index", path, {cps}, "I32").as<int32_t>();
  const double scale = fmd_fluence_scale_mu(rx_gy / fractions, cps);

  std::vector<FmdArc> arcs;
  const size_t plane = static_cast<size_t>(rows) * bixels;
  for (int c = 0; c < cps; ++c) {
    if (c == 0 || beam[c] != beam[c - 1]) {
      arcs.emplace_back();
      arcs.back().source = path + " arc " + std::to_string(beam[c]);
      arcs.back().grid = grid;
    }
    FmdArc& a = arcs.back();
    ++a.control_points;
    a.conditioning.insert(a.conditioning.end(), cond.begin() + c * k * plane, cond.begin() + (c + 1) * k * plane);
    for (size_t i = c * plane; i < (c + 1) * plane; ++i)
      a.fluence.push_back(static_cast<float>(fluence[i] / scale));
    a.gantry_deg.push_back(gantry[c]);
  }
  return arcs;
}

}  // namespace

double fmd_fluence_scale_mu(double dose_per_fraction_gy, int plan_control_points) {
  return dose_per_fraction_gy * kFmdMuPerGy / std::max(1, plan_control_points);
}

FmdDataset load_fmd_dataset(const std::string& folder, int expected_version, const FmdCanvas& canvas) {
  const std::string manifest_path = (fs::path(folder) / "training_manifest.json").string();
  const nlohmann::json m = read_json_file(manifest_path, "training manifest");
  FmdDataset d;
  d.folder = folder;
  try {
    if (m.at("format").get<std::string>() != "vmatplan-training-set")
      throw InputError(manifest_path, "not a vmatplan training manifest");
    d.training_set_version = m.at("format_version").get<int>();
    d.data_version = m.at("data_version").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(manifest_path, e.what());
  }
  if (d.training_set_version != expected_version)
    throw InputError(manifest_path, "training-set version " + std::to_string(d.training_set_version) +
                                        ", this build reads version " + std::to_string(expected_version) +
                                        " (regenerate the data)");
  if (!m.contains("patients") || !m["patients"].is_array() || m["patients"].empty())
    throw InputError(manifest_path, "training manifest lists no examples");
  for (const auto& p : m["patients"]) {
    const std::string file = (fs::path(folder) / p.value("file", "")).string();
    std::error_code ec;
    const auto bytes = fs::file_size(file, ec);
    if (ec) throw InputError(file, "training example missing: " + ec.message());
    if (static_cast<int64_t>(bytes) != p.value("bytes", int64_t(-1)))
      throw InputError(file, "size differs from " + manifest_path + " (truncated or replaced)");
    if (sha256_file_hex(file) != p.value("sha256", ""))
      throw InputError(file, "SHA-256 differs from " + manifest_path);
    for (FmdArc& a : read_example(file, expected_version)) {
      check_grid_on_canvas(canvas, a.grid);
      d.arcs.push_back(std::move(a));
    }
    ++d.patients;
  }
  d.min_control_points = d.arcs.front().control_points;
  for (const FmdArc& a : d.arcs) d.min_control_points = std::min(d.min_control_points, a.control_points);
  return d;
}

FmdDataStats measure_fmd_data(const FmdDataset& data, const FmdCanvas& canvas) {
  double sum = 0, sum2 = 0, n = 0;
  for (const FmdArc& a : data.arcs) {
    const std::vector<float> c = grid_to_canvas(canvas, a.grid, a.fluence.data(), a.control_points);
    for (float v : c) {
      sum += v;
      sum2 += double(v) * v;
    }
    n += c.size();
  }
  FmdDataStats s;
  if (n == 0) return s;
  s.mean = sum / n;
  s.std = std::sqrt(std::max(0.0, sum2 / n - s.mean * s.mean));
  return s;
}

torch::Tensor fmd_condition_on_canvas(const FmdCanvas& canvas, const FluenceGrid& grid, const float* conditioning,
                                      const float* gantry_deg, int control_points) {
  const int k = kBevChannelCount;
  const std::vector<float> c = grid_to_canvas(canvas, grid, conditioning, control_points * k);
  torch::Tensor bev = torch::from_blob(const_cast<float*>(c.data()), {control_points, k, canvas.rows, canvas.bixels},
                                       torch::kFloat32)
                          .permute({1, 0, 2, 3});
  torch::Tensor angle = torch::from_blob(const_cast<float*>(gantry_deg), {control_points}, torch::kFloat32)
                            .to(torch::kFloat64) * (M_PI / 180.0);
  const auto plane = [&](const torch::Tensor& v) {
    return v.to(torch::kFloat32).reshape({1, control_points, 1, 1}).expand({1, control_points, canvas.rows, canvas.bixels});
  };
  return torch::cat({bev, plane(torch::sin(angle)), plane(torch::cos(angle))}, 0).contiguous();
}

FmdBatch make_fmd_batch(const FmdDataset& data, const FmdCanvas& canvas,
                        const std::vector<std::pair<int, int>>& windows, int window, torch::Device device) {
  std::vector<torch::Tensor> fluence, condition;
  const int k = kBevChannelCount;
  for (const auto& [arc_index, first] : windows) {
    const FmdArc& a = data.arcs.at(arc_index);
    if (first < 0 || first + window > a.control_points)
      throw ProcessingError("FMD batch: window outside " + a.source);
    const size_t plane = static_cast<size_t>(a.grid.row_count()) * a.grid.bixel_count;
    std::vector<float> f = grid_to_canvas(canvas, a.grid, a.fluence.data() + first * plane, window);
    fluence.push_back(torch::from_blob(f.data(), {1, window, canvas.rows, canvas.bixels}, torch::kFloat32).clone());
    condition.push_back(fmd_condition_on_canvas(canvas, a.grid, a.conditioning.data() + first * k * plane,
                                                a.gantry_deg.data() + first, window));
  }
  return {torch::stack(fluence).to(device), torch::stack(condition).to(device)};
}

}  // namespace vmatplan
