#include "vmatplan/machine/machine.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"

namespace vmatplan {
namespace {

using nlohmann::json;

// Reads fields of one JSON object and reports problems as "field PATH.KEY: ..." so that a
// bad config names both its file and the offending field.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string source, std::string prefix,
              std::set<std::string> allowed_extra = {})
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)),
        allowed_(std::move(allowed_extra)) {
    if (!obj_.is_object()) fail("", "expected a JSON object");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    std::string field = prefix_.empty() ? key : (key.empty() ? prefix_ : prefix_ + "." + key);
    throw InputError(source_, "field " + (field.empty() ? std::string("<root>") : field) +
                                  ": " + problem);
  }

  const json& required(const std::string& key) {
    used_.insert(key);
    auto it = obj_.find(key);
    if (it == obj_.end()) fail(key, "missing");
    return *it;
  }

  double number(const std::string& key) {
    const json& v = required(key);
    if (!v.is_number()) fail(key, "expected a number");
    return v.get<double>();
  }
  double positive(const std::string& key) {
    double v = number(key);
    if (!(v > 0)) fail(key, "must be positive, found " + std::to_string(v));
    return v;
  }
  double non_negative(const std::string& key) {
    double v = number(key);
    if (!(v >= 0)) fail(key, "must be >= 0, found " + std::to_string(v));
    return v;
  }
  double fraction(const std::string& key) {
    double v = number(key);
    if (!(v >= 0 && v < 1)) fail(key, "must be a fraction in [0, 1), found " + std::to_string(v));
    return v;
  }
  bool boolean(const std::string& key) {
    const json& v = required(key);
    if (!v.is_boolean()) fail(key, "expected true or false");
    return v.get<bool>();
  }
  std::string string(const std::string& key) {
    const json& v = required(key);
    if (!v.is_string() || v.get<std::string>().empty()) fail(key, "expected a non-empty string");
    return v.get<std::string>();
  }
  bool has(const std::string& key) const { return obj_.contains(key); }

  // Keys starting with '_' are comments. Anything else not read is most likely a typo.
  void reject_unknown() const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      const std::string& k = it.key();
      if (k.empty() || k[0] == '_' || used_.count(k) || allowed_.count(k)) continue;
      fail(k, "unknown field");
    }
  }

 private:
  const json& obj_;
  std::string source_;
  std::string prefix_;
  std::set<std::string> allowed_;
  std::set<std::string> used_;
};

MlcModel read_mlc(const json& j, const std::string& source) {
  FieldReader r(j, source, "mlc");
  MlcModel m;
  const json& b = r.required("leaf_boundaries_mm");
  if (!b.is_array()) r.fail("leaf_boundaries_mm", "expected an array of numbers");
  for (const auto& v : b) {
    if (!v.is_number()) r.fail("leaf_boundaries_mm", "expected an array of numbers");
    m.leaf_boundaries_mm.push_back(v.get<double>());
  }
  const json& pc = r.required("pair_count");
  if (!pc.is_number_integer() || pc.get<int>() < 1)
    r.fail("pair_count", "expected a positive integer");
  int pairs = pc.get<int>();
  if (static_cast<int>(m.leaf_boundaries_mm.size()) != pairs + 1)
    r.fail("leaf_boundaries_mm", "expected " + std::to_string(pairs + 1) +
                                     " values (pair_count + 1), found " +
                                     std::to_string(m.leaf_boundaries_mm.size()));
  for (size_t i = 1; i < m.leaf_boundaries_mm.size(); ++i)
    if (!(m.leaf_boundaries_mm[i] > m.leaf_boundaries_mm[i - 1]))
      r.fail("leaf_boundaries_mm", "values must increase strictly (index " + std::to_string(i) +
                                       ")");
  m.leaf_min_pos_mm = r.number("leaf_min_pos_mm");
  m.leaf_max_pos_mm = r.number("leaf_max_pos_mm");
  if (!(m.leaf_min_pos_mm < m.leaf_max_pos_mm))
    r.fail("leaf_max_pos_mm", "must be greater than leaf_min_pos_mm");
  m.max_leaf_speed_mm_per_s = r.positive("max_leaf_speed_mm_per_s");
  m.min_dynamic_leaf_gap_mm = r.non_negative("min_dynamic_leaf_gap_mm");
  m.max_leaf_span_mm = r.positive("max_leaf_span_mm");
  m.interdigitation = r.boolean("interdigitation");
  m.transmission = r.fraction("transmission");
  r.reject_unknown();
  return m;
}

JawModel read_jaws(const json& j, const std::string& source, const std::string& key) {
  FieldReader r(j, source, key);
  JawModel jaw;
  jaw.present = r.boolean("present");
  if (!jaw.present) {
    r.reject_unknown();  // comments only: limits of an absent jaw would be misleading
    return jaw;
  }
  jaw.min_pos_mm = r.number("min_pos_mm");
  jaw.max_pos_mm = r.number("max_pos_mm");
  if (!(jaw.min_pos_mm < jaw.max_pos_mm)) r.fail("max_pos_mm", "must be greater than min_pos_mm");
  jaw.max_overtravel_mm = r.non_negative("max_overtravel_mm");
  jaw.transmission = r.fraction("transmission");
  r.reject_unknown();
  return jaw;
}

}  // namespace

Machine Machine::from_json(const nlohmann::json& j, const std::string& source) {
  // Top-level keys beyond ours are allowed: other layers (dose) may keep their own there.
  FieldReader r(j, source, "");
  Machine m;
  m.config_path = source;
  m.name = r.string("name");
  m.dicom_name = r.has("dicom_machine_name") ? r.string("dicom_machine_name") : m.name;
  if (m.dicom_name.size() > 16)
    r.fail(r.has("dicom_machine_name") ? "dicom_machine_name" : "name",
           "a DICOM TreatmentMachineName holds at most 16 characters ('" + m.dicom_name +
               "'); add a \"dicom_machine_name\" of at most 16");
  m.radiation_type = r.string("radiation_type");
  if (m.radiation_type != "PHOTON") r.fail("radiation_type", "only PHOTON is supported");
  m.nominal_energy_mv = r.positive("nominal_energy_mv");
  m.sad_mm = r.positive("sad_mm");
  m.max_gantry_speed_deg_per_s = r.positive("max_gantry_speed_deg_per_s");
  m.max_dose_rate_mu_per_min = r.positive("max_dose_rate_mu_per_min");
  m.min_dose_rate_mu_per_min = r.positive("min_dose_rate_mu_per_min");
  if (m.min_dose_rate_mu_per_min > m.max_dose_rate_mu_per_min)
    r.fail("min_dose_rate_mu_per_min", "exceeds max_dose_rate_mu_per_min");
  m.min_mu_per_degree = r.non_negative("min_mu_per_degree");
  m.max_mu_per_degree = r.positive("max_mu_per_degree");
  if (m.min_mu_per_degree > m.max_mu_per_degree)
    r.fail("min_mu_per_degree", "exceeds max_mu_per_degree");
  m.max_cp_spacing_deg = r.positive("max_cp_spacing_deg");
  m.mlc = read_mlc(r.required("mlc"), source);
  m.x_jaws = read_jaws(r.required("x_jaws"), source, "x_jaws");
  m.y_jaws = read_jaws(r.required("y_jaws"), source, "y_jaws");
  if (!m.y_jaws.present) r.fail("y_jaws", "an MLCX machine needs Y jaws (diaphragms)");
  if (r.has("beam_data")) {
    m.beam_data = r.required("beam_data");
    if (!m.beam_data.is_object()) r.fail("beam_data", "expected a JSON object");
  } else {
    m.beam_data = nlohmann::json::object();
  }
  return m;
}

Machine Machine::load(const std::string& path) {
  return from_json(read_json_file(path, "machine config", false), path);
}

std::vector<std::string> machine_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("VMATPLAN_MACHINE_PATH"); env && *env) {
    std::string s = env;
    for (size_t a = 0; a <= s.size();) {
      const size_t b = std::min(s.find(':', a), s.size());
      if (b > a) dirs.push_back(s.substr(a, b - a));
      a = b + 1;
    }
  }
  dirs.push_back(config_dir() + "/machines");
  return dirs;
}

Machine Machine::load_named(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                         fs::path(name_or_path).extension() == ".json";
  if (looks_like_path) return load(name_or_path);
  const std::vector<std::string> dirs = machine_search_dirs();
  for (const auto& d : dirs) {
    const std::string path = d + "/" + name_or_path + ".json";
    if (fs::exists(path)) return load(path);
  }
  // A config whose name or DICOM machine name is the one asked for (an RT Plan's
  // TreatmentMachineName); configs that do not load are skipped here.
  std::string known;
  for (const auto& d : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      known += (known.empty() ? "" : ", ") + f.stem().string();
      try {
        Machine m = load(f.string());
        if (m.answers_to(name_or_path)) return m;
      } catch (const Error&) {
      }
    }
  }
  std::string where;
  for (const auto& d : dirs) where += (where.empty() ? "" : ":") + d;
  throw InputError(where, "no machine named '" + name_or_path + "' (known: " +
                              (known.empty() ? std::string("none") : known) +
                              "; more folders: VMATPLAN_MACHINE_PATH)");
}

}  // namespace vmatplan
