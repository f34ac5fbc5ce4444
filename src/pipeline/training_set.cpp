// Training examples (conditioning + optimised fluence per patient) and the dataset
// manifest; the format is described in training_set.h and docs/training_set.md.
#include "vmatplan/pipeline/training_set.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "vmatplan/core/error.h"
#include "vmatplan/core/sha256.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/geometry/bev_conditioning.h"

namespace vmatplan {
namespace {
namespace fs = std::filesystem;

// Metadata that differs between patients by nature; the rest goes to the manifest's
// "shared" block when every example agrees on it.
bool per_patient_key(const std::string& k) {
  return k == "patient_id" || k == "channel_sources" || k == "absent_channels" ||
         k == "isocenter_mm" || k == "control_points";
}

// A metadata string as JSON: numbers, lists and objects parsed, the rest kept as text.
nlohmann::json metadata_json(const std::string& key, const std::string& value) {
  if (key != "patient_id" && nlohmann::json::accept(value)) return nlohmann::json::parse(value);
  return value;
}

}  // namespace

SafeTensorsFile make_training_example(const TrainingExampleInputs& in) {
  const FluencePlan& f = in.fluence;
  const FluenceGrid& grid = f.fluence.grid;
  if (in.protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + in.protocol.name + "' has no target level");
  if (in.fractions < 1) throw UsageError("training export: fractions must be at least 1");
  const std::string target_role = in.protocol.prescription.targets.front().role;
  const BevConditioning c = compute_bev_conditioning(
      {in.patient, in.roles, target_role, f.geometry, grid, in.machine.sad_mm});
  const int64_t cps = c.control_points, rows = c.rows, bixels = c.bixels;
  if (f.fluence.control_point_count != c.control_points ||
      f.fluence.values.size() != static_cast<size_t>(cps * rows * bixels))
    throw ProcessingError("training export: the fluence does not match the plan geometry");

  SafeTensorsFile st;
  st.add_f32("conditioning", {cps, c.channels, rows, bixels}, c.values);
  std::vector<float> per_fraction(f.fluence.values);
  for (float& v : per_fraction) v = static_cast<float>(v / in.fractions);
  st.add_f32("fluence", {cps, rows, bixels}, per_fraction);
  std::vector<float> gantry, collimator;
  std::vector<int32_t> beam_index;
  for (size_t b = 0; b < f.geometry.beams.size(); ++b)
    for (const ControlPointGeometry& cp : f.geometry.beams[b].control_points) {
      gantry.push_back(static_cast<float>(cp.gantry_deg));
      collimator.push_back(static_cast<float>(cp.collimator_deg));
      beam_index.push_back(static_cast<int32_t>(b));
    }
  st.add_f32("gantry_deg", {cps}, gantry);
  st.add_f32("collimator_deg", {cps}, collimator);
  st.add_i32("beam_index", {cps}, beam_index);

  nlohmann::json names = nlohmann::json::array(), sources = nlohmann::json::object();
  for (int ch = 0; ch < kBevChannelCount; ++ch) {
    names.push_back(kBevChannelNames[ch]);
    sources[kBevChannelNames[ch]] = c.sources[ch];
  }
  const Prescription& rx = in.protocol.prescription;
  auto text = [](const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  st.metadata = {
      {"format", "vmatplan-training-example"},
      {"format_version", std::to_string(kTrainingSetVersion)},
      {"channel_names", names.dump()},
      {"channel_sources", sources.dump()},
      {"absent_channels", nlohmann::json(c.absent).dump()},
      {"target_role", target_role},
      {"body_depth_scale_mm", text(kBodyDepthScaleMm)},
      {"fluence_unit", "MU per fraction"},
      {"fluence_stage", "after the refiner, before sequencing"},
      {"patient_id", in.patient.identity.patient_id},
      {"patient_position", f.geometry.patient_position},
      {"isocenter_mm", nlohmann::json(f.geometry.isocenter_mm).dump()},
      {"control_points", std::to_string(cps)},
      {"protocol", in.protocol.name},
      {"prescription_dose_gy", text(rx.total_dose_gy)},
      {"fractions", std::to_string(in.fractions)},
      {"machine", in.options.machine},
      {"sad_mm", text(in.machine.sad_mm)},
      {"generator", in.options.generator},
      {"refiner", in.options.refiner},
      {"seed", std::to_string(in.options.fluence.seed)},
      {"bixel_width_mm", text(grid.bixel_width_mm)},
      {"x_min_mm", text(grid.x_min_mm)},
      {"bixel_count", std::to_string(grid.bixel_count)},
      {"first_leaf_pair", std::to_string(grid.first_leaf_pair)},
      {"leaf_row_edges_mm", nlohmann::json(grid.row_edges_mm).dump()}};
  return st;
}

bool has_training_example(const std::string& patient_dir) {
  const std::string path = patient_dir + "/" + kTrainingFileName;
  if (!is_finished_patient(patient_dir) || !fs::is_regular_file(path)) return false;
  // An example of another format version came from another reference planner: it is
  // redone (batch --resume) and never listed beside current ones.
  try {
    const SafeTensorsFile st = read_safetensors(path);
    const auto it = st.metadata.find("format_version");
    return it != st.metadata.end() && it->second == std::to_string(kTrainingSetVersion);
  } catch (const InputError&) {
    return false;
  }
}

nlohmann::json write_training_manifest(const std::string& out, const std::vector<CohortEntry>& cohort) {
  nlohmann::json patients = nlohmann::json::array();
  std::vector<std::map<std::string, std::string>> metadata;
  Sha256 data_version;
  for (const CohortEntry& e : cohort) {
    const std::string dir = out + "/" + e.id;
    if (!has_training_example(dir)) continue;
    const std::string rel = e.id + "/" + kTrainingFileName;
    const std::string path = out + "/" + rel;
    const SafeTensorsFile st = read_safetensors(path);
    const std::string sha = sha256_file_hex(path);
    nlohmann::json shapes = nlohmann::json::object();
    for (const auto& [name, t] : st.tensors) shapes[name] = {{"dtype", t.dtype}, {"shape", t.shape}};
    patients.push_back({{"id", e.id}, {"file", rel}, {"bytes", fs::file_size(path)},
                        {"sha256", sha}, {"tensors", shapes}});
    metadata.push_back(st.metadata);
    data_version.update(e.id.data(), e.id.size());
    data_version.update(":", 1);
    data_version.update(sha.data(), sha.size());
    data_version.update("\n", 1);
  }
  // Metadata every example agrees on goes to "shared", the rest to each patient's entry.
  nlohmann::json shared = nlohmann::json::object();
  if (!metadata.empty())
    for (const auto& [k, v] : metadata.front()) {
      bool same = !per_patient_key(k);
      for (size_t i = 1; i < metadata.size() && same; ++i)
        same = metadata[i].count(k) && metadata[i].at(k) == v;
      if (same) shared[k] = metadata_json(k, v);
    }
  for (size_t i = 0; i < metadata.size(); ++i)
    for (const auto& [k, v] : metadata[i])
      if (!shared.contains(k))
        patients[i][k] = metadata_json(k, v);
  nlohmann::json names = nlohmann::json::array();
  for (const char* n : kBevChannelNames) names.push_back(n);
  const nlohmann::json manifest = {
      {"format", "vmatplan-training-set"},
      {"format_version", kTrainingSetVersion},
      // SHA-256 of the lines "id:sha256\n" of the examples in manifest order: equal
      // datasets have equal versions, whatever run, shard or resume produced them.
      {"data_version", data_version.hex_digest()},
      {"channel_names", names},
      {"shared", shared},
      {"count", patients.size()},
      {"patients", patients}};
  StagedOutput staged(out + "/" + kTrainingManifestName, StagedOutput::Kind::kFile);
  {
    std::ofstream f(staged.path());
    f << manifest.dump(2) << "\n";
    if (!f) throw InputError(staged.path(), "cannot write");
  }
  staged.commit();
  return manifest;
}

}  // namespace vmatplan
