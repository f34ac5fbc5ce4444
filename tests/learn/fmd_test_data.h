#pragma once
// A tiny synthetic training set in the `batch --training-set` format (docs/training_set.md)
// for the FMD tests: a few "patients" of two short arcs on a small grid, whose fluence is
// a fixed function of the target channel and the gantry angle (so there is something to
// learn), written with the project's own safetensors writer and SHA-256.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/core/safetensors.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/pipeline/training_set.h"

namespace vmatplan::test {

// Writes DIR/training_manifest.json and DIR/P<i>/training.safetensors; returns DIR.
inline std::string write_synthetic_training_set(const std::string& dir, int patients, int first_seed,
                                                int version = kTrainingSetVersion) {
  namespace fs = std::filesystem;
  const int cps_per_arc = 6, arcs = 2, cps = cps_per_arc * arcs, k = kBevChannelCount;
  const std::vector<double> edges = {-20, -10, -5, 0, 5, 10, 20};  // 10 and 5 mm leaves
  const int rows = static_cast<int>(edges.size()) - 1, bixels = 5;
  const double x_min = -20, bixel = 10;
  nlohmann::json manifest = {{"format", "vmatplan-training-set"}, {"format_version", version},
                             {"channel_names", nlohmann::json::array()}, {"patients", nlohmann::json::array()}};
  std::string identity;
  for (int p = 0; p < patients; ++p) {
    const int seed = first_seed + p;
    const double half_width = 1.0 + (seed % 2);  // bixels of target half-width
    std::vector<float> cond(static_cast<size_t>(cps) * k * rows * bixels, 0.0f), fluence, gantry, collimator;
    std::vector<int32_t> beam;
    for (int c = 0; c < cps; ++c) {
      const double g = (c < cps_per_arc) ? 330.0 + 12.0 * c : 150.0 + 12.0 * (c - cps_per_arc);
      gantry.push_back(static_cast<float>(std::fmod(g, 360.0)));
      collimator.push_back(0.0f);
      beam.push_back(c < cps_per_arc ? 0 : 1);
      for (int r = 0; r < rows; ++r)
        for (int b = 0; b < bixels; ++b) {
          const bool in_target = std::abs(b - 2) <= half_width && r >= 1 && r <= 4;
          const size_t base = ((static_cast<size_t>(c) * k) * rows + r) * bixels + b;
          const size_t plane = static_cast<size_t>(rows) * bixels;
          cond[base + kChannelTarget * plane] = in_target ? 1.0f : 0.0f;
          cond[base + kChannelRectum * plane] = (r == 0) ? 0.5f : 0.0f;
          cond[base + kChannelBodyDepth * plane] = 1.5f;
          fluence.push_back(in_target ? static_cast<float>(25.0 * (1.2 + 0.4 * std::sin(g * M_PI / 180.0))) : 0.0f);
        }
    }
    SafeTensorsFile f;
    f.add_f32("conditioning", {cps, k, rows, bixels}, cond);
    f.add_f32("fluence", {cps, rows, bixels}, fluence);
    f.add_f32("gantry_deg", {cps}, gantry);
    f.add_f32("collimator_deg", {cps}, collimator);
    f.add_i32("beam_index", {cps}, beam);
    f.metadata = {{"format", "vmatplan-training-example"}, {"format_version", std::to_string(version)},
                  {"control_points", std::to_string(cps)}, {"prescription_dose_gy", "60"},
                  {"fractions", "20"}, {"bixel_width_mm", "10"}, {"x_min_mm", "-20"},
                  {"bixel_count", std::to_string(bixels)}, {"first_leaf_pair", "27"},
                  {"leaf_row_edges_mm", nlohmann::json(edges).dump()}};
    const std::string id = "P" + std::to_string(seed);
    fs::create_directories(dir + "/" + id);
    const std::string file = dir + "/" + id + "/training.safetensors";
    write_safetensors(f, file);
    const std::string sha = sha256_file_hex(file);
    identity += id + ":" + sha + "\n";
    manifest["patients"].push_back({{"id", id}, {"file", id + "/training.safetensors"},
                                    {"bytes", static_cast<int64_t>(fs::file_size(file))}, {"sha256", sha}});
  }
  manifest["count"] = patients;
  manifest["data_version"] = sha256_hex(identity);
  std::ofstream(dir + "/training_manifest.json") << manifest.dump(2);
  return dir;
}

}  // namespace vmatplan::test
