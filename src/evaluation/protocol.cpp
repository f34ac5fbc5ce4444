#include "vmatplan/evaluation/protocol.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"

namespace vmatplan {
namespace {
using nlohmann::json;

// Reads one JSON object with known keys; keys starting with '_' are comments. Unknown keys
// are errors, so that a typo ("acceptible") cannot silently drop a threshold.
class Entry {
 public:
  Entry(const json& j, std::string where, const std::string& path)
      : j_(j), where_(std::move(where)), path_(path) {
    if (!j_.is_object()) fail("expected a JSON object");
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(path_, where_ + ": " + why);
  }
  bool has(const char* key) const { return j_.contains(key); }
  double number(const char* key) const {
    used_.insert(key);
    if (!j_.contains(key)) fail(std::string("missing '") + key + "'");
    if (!j_[key].is_number()) fail(std::string("'") + key + "' must be a number");
    const double v = j_[key].get<double>();
    if (!std::isfinite(v)) fail(std::string("'") + key + "' must be finite");
    return v;
  }
  double number_or(const char* key, double fallback) const {
    return has(key) ? number(key) : (used_.insert(key), fallback);
  }
  std::string text(const char* key) const {
    used_.insert(key);
    if (!j_.contains(key)) fail(std::string("missing '") + key + "'");
    if (!j_[key].is_string()) fail(std::string("'") + key + "' must be a string");
    return j_[key].get<std::string>();
  }
  std::string text_or(const char* key, const std::string& fallback) const {
    return has(key) ? text(key) : (used_.insert(key), fallback);
  }
  bool flag_or(const char* key, bool fallback) const {
    used_.insert(key);
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(std::string("'") + key + "' must be true or false");
    return j_[key].get<bool>();
  }
  const json& object(const char* key) const {
    used_.insert(key);
    if (!j_.contains(key) || !j_[key].is_object())
      fail(std::string("missing '") + key + "' (a JSON object)");
    return j_[key];
  }
  const json& array(const char* key) const {
    used_.insert(key);
    if (!j_.contains(key) || !j_[key].is_array())
      fail(std::string("'") + key + "' must be an array");
    return j_[key];
  }
  void check_no_unknown_keys() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!it.key().empty() && it.key()[0] != '_' && !used_.count(it.key()))
        fail("unknown key '" + it.key() + "'");
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
  const std::string& path_;
  mutable std::set<std::string> used_;
};

ObjectiveKind objective_kind(const Entry& e, const std::string& type) {
  static const std::pair<const char*, ObjectiveKind> kinds[] = {
      {"min_dose", ObjectiveKind::kMinDose},     {"max_dose", ObjectiveKind::kMaxDose},
      {"max_mean_dose", ObjectiveKind::kMaxMeanDose}, {"dvh_min", ObjectiveKind::kDvhMin},
      {"dvh_max", ObjectiveKind::kDvhMax},       {"uniform_dose", ObjectiveKind::kUniformDose},
      {"geud_max", ObjectiveKind::kGeudMax},     {"geud_min", ObjectiveKind::kGeudMin},
      {"fall_off", ObjectiveKind::kFallOff}};
  for (const auto& k : kinds)
    if (type == k.first) return k.second;
  e.fail("unknown objective type '" + type +
         "' (min_dose, max_dose, max_mean_dose, dvh_min, dvh_max, uniform_dose, geud_max, "
         "geud_min, fall_off)");
}

ObjectiveSpec read_objective(const Entry& e) {
  ObjectiveSpec o;
  o.role = e.text("role");
  o.kind = objective_kind(e, e.text("type"));
  o.weight = e.number("weight");
  if (o.weight < 0) e.fail("'weight' must be >= 0");
  if (o.kind == ObjectiveKind::kFallOff) {
    o.ring.target_role = e.text_or("target_role", o.ring.target_role);
    o.ring.start_mm = e.number_or("start_mm", o.ring.start_mm);
    o.ring.start_dose_pct = e.number_or("start_dose_pct", o.ring.start_dose_pct);
    o.ring.end_dose_pct = e.number_or("end_dose_pct", o.ring.end_dose_pct);
    o.ring.per_mm = e.number_or("per_mm", o.ring.per_mm);
    if (o.ring.per_mm <= 0) e.fail("'per_mm' must be > 0");
  } else {
    o.dose_gy = e.number("dose_gy");
    if (o.dose_gy < 0) e.fail("'dose_gy' must be >= 0");
  }
  if (o.kind == ObjectiveKind::kDvhMin || o.kind == ObjectiveKind::kDvhMax) {
    o.volume_pct = e.number("volume_pct");
    if (o.volume_pct < 0 || o.volume_pct > 100) e.fail("'volume_pct' must be in [0, 100]");
  }
  if (o.kind == ObjectiveKind::kGeudMax || o.kind == ObjectiveKind::kGeudMin) {
    o.geud_a = e.number("a");
    if (o.geud_a == 0) e.fail("gEUD parameter 'a' must be nonzero");
  }
  e.check_no_unknown_keys();
  return o;
}

ClinicalGoal read_goal(const Entry& e) {
  ClinicalGoal g;
  g.role = e.text("role");
  const std::string unit = e.text_or("unit", "%");
  try {
    g.metric = parse_metric(e.text("metric"), unit);
  } catch (const UsageError& err) {
    e.fail(err.what());
  }
  const std::string cmp = e.text("comparison");
  if (cmp == "<=" || cmp == "<")
    g.comparison = GoalComparison::kAtMost;
  else if (cmp == ">=" || cmp == ">")
    g.comparison = GoalComparison::kAtLeast;
  else
    e.fail("'comparison' must be '<=' or '>='");
  g.acceptable = e.number("acceptable");
  g.ideal = e.number_or("ideal", g.acceptable);
  const bool ideal_stricter = g.comparison == GoalComparison::kAtMost ? g.ideal <= g.acceptable
                                                                      : g.ideal >= g.acceptable;
  if (!ideal_stricter) e.fail("'ideal' must be at least as strict as 'acceptable'");
  g.optional = e.flag_or("optional", false);
  g.source = e.text_or("source", "");
  e.check_no_unknown_keys();
  return g;
}

Prescription read_prescription(const Entry& e, const std::string& path) {
  Prescription p;
  p.total_dose_gy = e.number("total_dose_gy");
  p.fractions = static_cast<int>(e.number("fractions"));
  if (p.total_dose_gy <= 0) e.fail("'total_dose_gy' must be > 0");
  if (p.fractions <= 0) e.fail("'fractions' must be > 0");
  const json& targets = e.array("targets");
  for (size_t i = 0; i < targets.size(); ++i) {
    Entry t(targets[i], "prescription.targets[" + std::to_string(i) + "]", path);
    TargetLevel level{t.text("role"), t.number("dose_gy")};
    if (level.dose_gy <= 0) t.fail("'dose_gy' must be > 0");
    t.check_no_unknown_keys();
    p.targets.push_back(level);
  }
  if (p.targets.empty()) e.fail("'targets' must name at least one target");
  std::stable_sort(p.targets.begin(), p.targets.end(),
                   [](const TargetLevel& a, const TargetLevel& b) { return a.dose_gy > b.dose_gy; });
  if (std::abs(p.targets.front().dose_gy - p.total_dose_gy) > 1e-6)
    e.fail("'total_dose_gy' must equal the highest target level");
  // Required: a plan without a normalisation rule has no defined scale.
  Entry norm(e.object("normalisation"), e.where() + ".normalisation", path);
  p.normalisation.role = norm.text("role");
  p.normalisation.metric = norm.text_or("metric", "D95%");
  p.normalisation.value_gy = norm.number("value_gy");
  try {
    if (parse_metric(p.normalisation.metric).value_unit() != "Gy")
      norm.fail("'metric' must be a dose metric (e.g. D95% or Dmean)");
  } catch (const UsageError& err) {
    norm.fail(err.what());
  }
  norm.check_no_unknown_keys();
  e.check_no_unknown_keys();
  return p;
}

}  // namespace

double FallOffRing::limit_gy(double r_mm, double rx_gy) const {
  const double start = start_dose_pct / 100.0 * rx_gy;
  const double end = end_dose_pct / 100.0 * rx_gy;
  if (r_mm <= start_mm) return start;
  return end + (start - end) * std::exp(-per_mm * (r_mm - start_mm));
}

std::vector<std::string> Protocol::roles() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& r) {
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  };
  for (const auto& t : prescription.targets) add(t.role);
  add(prescription.normalisation.role);
  for (const auto& o : objectives) {
    add(o.role);
    if (o.kind == ObjectiveKind::kFallOff) add(o.ring.target_role);
  }
  for (const auto& g : goals) add(g.role);
  return out;
}

Protocol load_protocol(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  std::string path = name_or_path;
  const bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                               fs::path(name_or_path).extension() == ".json";
  if (!looks_like_path) path = config_path("protocols/" + name_or_path + ".json");
  const json j = read_json_file(path, "protocol");

  Protocol p;
  p.path = path;
  Entry top(j, "protocol", path);
  p.name = top.text_or("name", fs::path(path).stem().string());
  p.description = top.text_or("description", "");
  p.mu_weight = top.number_or("mu_weight", 0.0);
  if (!(p.mu_weight >= 0 && std::isfinite(p.mu_weight)))
    throw InputError(path, "protocol: 'mu_weight' must be a finite number >= 0");
  p.prescription = read_prescription(Entry(top.object("prescription"), "prescription", path),
                                     path);
  const json& objectives = top.array("objectives");
  for (size_t i = 0; i < objectives.size(); ++i)
    p.objectives.push_back(
        read_objective(Entry(objectives[i], "objectives[" + std::to_string(i) + "]", path)));
  const json& goals = top.array("goals");
  for (size_t i = 0; i < goals.size(); ++i)
    p.goals.push_back(read_goal(Entry(goals[i], "goals[" + std::to_string(i) + "]", path)));
  top.check_no_unknown_keys();
  return p;
}

const char* to_string(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::kMinDose: return "min_dose";
    case ObjectiveKind::kMaxDose: return "max_dose";
    case ObjectiveKind::kMaxMeanDose: return "max_mean_dose";
    case ObjectiveKind::kDvhMin: return "dvh_min";
    case ObjectiveKind::kDvhMax: return "dvh_max";
    case ObjectiveKind::kUniformDose: return "uniform_dose";
    case ObjectiveKind::kGeudMax: return "geud_max";
    case ObjectiveKind::kGeudMin: return "geud_min";
    case ObjectiveKind::kFallOff: return "fall_off";
  }
  return "?";
}

const char* to_string(GoalComparison c) { return c == GoalComparison::kAtMost ? "<=" : ">="; }

}  // namespace vmatplan
