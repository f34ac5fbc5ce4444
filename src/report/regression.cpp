// The regression check: metrics of a cohort run, ranges from a run (--update), and the run
// checked against ranges. The report pages are in regression_report.cpp.
#include "vmatplan/report/regression.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"

namespace vmatplan {
namespace {

constexpr const char* kGoalPrefix = "goal:";

// The first structure with `role` in a summary.json, or null.
const nlohmann::json* regression_structure(const nlohmann::json& s, const std::string& role) {
  if (!s.contains("structures") || !s["structures"].is_array()) return nullptr;
  for (const auto& st : s["structures"])
    if (st.value("role", "") == role) return &st;
  return nullptr;
}

double regression_number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

// Half-width of a metric's range by its kind (the name tells it).
double half_width(const std::string& name, double v, const RegressionTolerances& t) {
  const double a = std::fabs(v);
  if (name.rfind(kGoalPrefix, 0) == 0) return std::max(t.goal_value_absolute, a * t.goal_value_relative);
  if (name.rfind("mu_", 0) == 0) return a * t.mu_relative;
  if (name == "beam_on_s") return a * t.time_relative;
  return t.dose_gy;
}

// Integers as integers (goals passed), else two decimals.
std::string regression_num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v == std::round(v) && std::fabs(v) < 1e9 ? "%.0f" : "%.2f", v);
  return b;
}

// A [lo, hi] pair from the expected file.
std::pair<double, double> range_of(const nlohmann::json& r, const std::string& what, const std::string& source) {
  if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number() || r[0].get<double>() > r[1].get<double>())
    throw InputError(source, what + ": expected a range [low, high]");
  return {r[0].get<double>(), r[1].get<double>()};
}

}  // namespace

RegressionTolerances regression_tolerances_from_json(const nlohmann::json& j, const std::string& source) {
  RegressionTolerances t;
  if (!j.is_object()) throw InputError(source, "tolerances: expected a JSON object");
  auto read = [&](const char* key, double& v) {
    if (!j.contains(key)) return;
    if (!j[key].is_number() || j[key].get<double>() < 0)
      throw InputError(source, std::string("tolerances.") + key + ": expected a number >= 0");
    v = j[key].get<double>();
  };
  double drop = t.goals_passed_drop;
  read("dose_gy", t.dose_gy);
  read("goal_value_relative", t.goal_value_relative);
  read("goal_value_absolute", t.goal_value_absolute);
  read("mu_relative", t.mu_relative);
  read("time_relative", t.time_relative);
  read("goals_passed_drop", drop);
  t.goals_passed_drop = static_cast<int>(drop);
  return t;
}

const RegressionPatient* RegressionRun::find(const std::string& id) const {
  for (const auto& p : patients)
    if (p.id == id) return &p;
  return nullptr;
}

std::map<std::string, double> regression_metrics(const nlohmann::json& s) {
  std::map<std::string, double> m;
  for (const auto& g : s.value("goals", nlohmann::json::array()))
    if (g.contains("value") && g["value"].is_number())
      m[kGoalPrefix + g.value("structure", "") + " " + g.value("metric", "")] = g["value"].get<double>();
  if (const auto* ptv = regression_structure(s, "ptv")) {
    m["ptv_d95_gy"] = regression_number(*ptv, "d95_gy");
    m["ptv_d2_gy"] = regression_number(*ptv, "d2_gy");
  }
  for (const char* role : {"rectum", "bladder", "femoral_head_left", "femoral_head_right"})
    if (const auto* st = regression_structure(s, role)) {
      m[std::string(role) + "_mean_gy"] = regression_number(*st, "mean_gy");
      m[std::string(role) + "_d2_gy"] = regression_number(*st, "d2_gy");
    }
  if (const auto* body = regression_structure(s, "body")) m["body_mean_gy"] = regression_number(*body, "mean_gy");
  if (s.contains("plan") && s["plan"].is_object()) {
    m["mu_per_gy"] = regression_number(s["plan"], "mu_per_gy");
    m["mu_per_fraction"] = regression_number(s["plan"], "mu_per_fraction");
    m["beam_on_s"] = regression_number(s["plan"], "delivery_time_s");
  }
  for (auto it = m.begin(); it != m.end();) it = std::isfinite(it->second) ? std::next(it) : m.erase(it);
  return m;
}

RegressionRun read_regression_run(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string cohort_file = dir + "/cohort_summary.json";
  const nlohmann::json cohort = read_json_file(cohort_file, "cohort summary");
  if (!cohort.contains("patients") || !cohort["patients"].is_array())
    throw InputError(cohort_file, "no 'patients' array (not a `vmatplan batch` output?)");
  RegressionRun run{dir, {}};
  for (const auto& row : cohort["patients"]) {
    RegressionPatient p;
    p.id = row.value("id", "");
    p.status = row.value("status", "pending");
    p.error = row.value("error", "");
    if (p.id.empty()) throw InputError(cohort_file, "a patient without an id");
    if (p.status == "done") {
      const std::string sdir = dir + "/" + p.id;
      const nlohmann::json s = read_json_file(sdir + "/summary.json", "patient summary");
      p.metrics = regression_metrics(s);
      p.goals_passed = s.value("goals_passed", 0);
      p.goals_total = p.goals_passed + s.value("goals_failed", 0);
      if (s.contains("prescription") && s["prescription"].contains("targets"))
        for (const auto& t : s["prescription"]["targets"])
          if (t.contains("dose_gy") && t["dose_gy"].is_number())
            p.prescription.push_back({t.value("role", ""), t["dose_gy"].get<double>()});
      if (fs::is_regular_file(sdir + "/dvh.json"))
        p.dvh = dvh_samples_from_json(read_json_file(sdir + "/dvh.json", "DVH samples"), sdir + "/dvh.json");
    }
    run.patients.push_back(std::move(p));
  }
  return run;
}

nlohmann::json expected_ranges_from_run(const RegressionRun& run, const RegressionTolerances& tol) {
  nlohmann::json patients = nlohmann::json::object();
  for (const auto& p : run.patients) {
    if (p.status != "done") continue;
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, v] : p.metrics) {
      const double h = half_width(name, v, tol);
      metrics[name] = {std::round((v - h) * 1e4) / 1e4, std::round((v + h) * 1e4) / 1e4};
    }
    patients[p.id] = {{"goals_passed_min", std::max(0, p.goals_passed - tol.goals_passed_drop)},
                      {"goals_total", p.goals_total},
                      {"metrics", metrics}};
  }
  return {{"patients", patients}};
}

nlohmann::json expected_dvhs_from_run(const RegressionRun& run) {
  nlohmann::json patients = nlohmann::json::object();
  for (const auto& p : run.patients)
    if (p.status == "done" && !p.dvh.empty()) patients[p.id] = dvh_structures_json(p.dvh);
  return {{"format", "vmatplan-dvh-samples-1"}, {"patients", patients}};
}

std::string format_expected_json(const nlohmann::json& j) {
  // Two levels of objects spelled out, everything deeper on one line per entry.
  std::string out = "{\n";
  bool first_key = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    out += std::string(first_key ? "" : ",\n") + "  " + nlohmann::json(it.key()).dump() + ": ";
    first_key = false;
    if (it.key() != "patients" || !it->is_object()) {
      out += it->dump();
      continue;
    }
    out += "{\n";
    bool first_patient = true;
    for (auto p = it->begin(); p != it->end(); ++p) {
      out += std::string(first_patient ? "" : ",\n") + "    " + nlohmann::json(p.key()).dump() + ": ";
      first_patient = false;
      const bool is_array = p->is_array();
      out += is_array ? "[\n" : "{\n";
      bool first = true;
      for (auto e = p->begin(); e != p->end(); ++e) {
        out += std::string(first ? "" : ",\n") + "      ";
        first = false;
        if (!is_array) out += nlohmann::json(e.key()).dump() + ": ";
        if (!is_array && e->is_object()) {  // metrics: one line each
          out += "{\n";
          bool first_metric = true;
          for (auto m = e->begin(); m != e->end(); ++m) {
            out += std::string(first_metric ? "" : ",\n") + "        " + nlohmann::json(m.key()).dump() + ": " + m->dump();
            first_metric = false;
          }
          out += "\n      }";
        } else {
          out += e->dump();
        }
      }
      out += is_array ? "\n    ]" : "\n    }";
    }
    out += "\n  }";
  }
  return out + "\n}\n";
}

std::string RegressionCheck::message() const {
  std::string m = patient + " " + metric + ": ";
  const std::string range = "[" + regression_num(low) + ", " + regression_num(high) + "]";
  if (!present) return m + "missing from the run (expected " + range + ")";
  m += regression_num(value);
  if (value < low) return m + " below the expected " + range + " by " + regression_num(low - value);
  if (value > high) return m + " above the expected " + range + " by " + regression_num(value - high);
  return m + " within " + range;
}

bool RegressionPatientResult::pass() const {
  if (status != "done") return false;
  return std::all_of(checks.begin(), checks.end(), [](const RegressionCheck& c) { return c.pass; });
}

std::vector<std::string> RegressionResult::failures() const {
  std::vector<std::string> out;
  for (const auto& p : patients) {
    if (p.status != "done") {
      out.push_back(p.id + ": not planned (status " + p.status + (p.error.empty() ? "" : ": " + p.error) + ")");
      continue;
    }
    for (const auto& c : p.checks)
      if (!c.pass) out.push_back(c.message());
  }
  return out;
}

RegressionResult check_regression(const RegressionRun& run, const nlohmann::json& expected,
                                  const std::string& source) {
  if (!expected.is_object() || !expected.contains("patients") || !expected["patients"].is_object())
    throw InputError(source, "expected ranges: no 'patients' object");
  RegressionResult result{source, {}};
  // The run's order (the cohort's), then expected patients the run lacks.
  std::vector<std::string> ids;
  for (const auto& p : run.patients)
    if (expected["patients"].contains(p.id)) ids.push_back(p.id);
  for (auto it = expected["patients"].begin(); it != expected["patients"].end(); ++it)
    if (!run.find(it.key())) ids.push_back(it.key());
  for (const std::string& id : ids) {
    const nlohmann::json& x = expected["patients"][id];
    if (!x.is_object() || !x.contains("metrics") || !x["metrics"].is_object())
      throw InputError(source, id + ": expected an object with 'metrics'");
    const RegressionPatient* got = run.find(id);
    RegressionPatientResult r{id, got ? got->status : "missing", got ? got->error : "", {}};
    if (got && got->status == "done") {
      RegressionCheck goals{id, "goals_passed", double(got->goals_passed),
                            x.value("goals_passed_min", 0.0), x.value("goals_total", double(got->goals_total))};
      goals.pass = goals.value >= goals.low;
      r.checks.push_back(goals);
      for (auto m = x["metrics"].begin(); m != x["metrics"].end(); ++m) {
        const auto [lo, hi] = range_of(*m, id + " " + m.key(), source);
        RegressionCheck c{id, m.key(), 0.0, lo, hi};
        const auto v = got->metrics.find(m.key());
        c.present = v != got->metrics.end();
        c.value = c.present ? v->second : 0.0;
        c.pass = c.present && c.value >= lo && c.value <= hi;
        r.checks.push_back(c);
      }
    }
    result.patients.push_back(std::move(r));
  }
  return result;
}

std::map<std::string, std::vector<SampledDvh>> expected_dvhs_from_json(const nlohmann::json& j,
                                                                       const std::string& source) {
  if (!j.is_object() || !j.contains("patients") || !j["patients"].is_object())
    throw InputError(source, "expected DVHs: no 'patients' object");
  std::map<std::string, std::vector<SampledDvh>> out;
  for (auto it = j["patients"].begin(); it != j["patients"].end(); ++it)
    out[it.key()] = dvh_samples_from_json(*it, source + " (" + it.key() + ")");
  return out;
}

}  // namespace vmatplan
