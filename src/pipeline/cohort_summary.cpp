// cohort_summary.{json,csv}: one row per manifest patient, rebuilt from the folders on
// disk (finished folder -> done, <id>.failed.json -> failed, else pending).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/pipeline/batch.h"

namespace vmatplan {
namespace {
namespace fs = std::filesystem;

// The first structure with `role` in a summary.json, or null.
const nlohmann::json* structure_with_role(const nlohmann::json& s, const std::string& role) {
  if (!s.contains("structures")) return nullptr;
  for (const auto& st : s["structures"])
    if (st.value("role", "") == role) return &st;
  return nullptr;
}

nlohmann::json row_of(const std::string& out, const CohortEntry& e) {
  nlohmann::json row = {{"id", e.id}, {"path", e.path}, {"protocol", e.protocol},
                        {"status", "pending"}, {"error", ""}};
  const std::string dir = out + "/" + e.id;
  if (is_finished_patient(dir)) {
    const nlohmann::json s = read_json_file(dir + "/summary.json", "patient summary");
    row["status"] = "done";
    row["goals_passed"] = s.value("goals_passed", 0);
    row["goals_failed"] = s.value("goals_failed", 0);
    if (const auto* ptv = structure_with_role(s, "ptv")) {
      row["ptv_d95_gy"] = ptv->value("d95_gy", 0.0);
      row["ptv_d2_gy"] = ptv->value("d2_gy", 0.0);
    }
    if (const auto* r = structure_with_role(s, "rectum")) row["rectum_mean_gy"] = r->value("mean_gy", 0.0);
    if (const auto* b = structure_with_role(s, "bladder")) row["bladder_mean_gy"] = b->value("mean_gy", 0.0);
    if (s.contains("plan")) {
      row["mu_per_fraction"] = s["plan"].value("mu_per_fraction", 0.0);
      row["mu_per_gy"] = s["plan"].value("mu_per_gy", 0.0);
      row["delivery_time_s"] = s["plan"].value("delivery_time_s", 0.0);
    }
    row["total_seconds"] = s.value("total_seconds", 0.0);
    if (s.contains("options")) row["protocol"] = s["options"].value("protocol", "");
    // Goals, with their values, for regression comparisons.
    nlohmann::json goals = nlohmann::json::object();
    for (const auto& g : s.value("goals", nlohmann::json::array()))
      if (g.contains("value") && g["value"].is_number())
        goals[g.value("structure", "") + " " + g.value("metric", "")] = g["value"];
    row["goal_values"] = goals;
  } else if (fs::is_regular_file(out + "/" + e.id + ".failed.json")) {
    row["status"] = "failed";
    try {
      row["error"] = read_json_file(out + "/" + e.id + ".failed.json", "failure record").value("error", "");
    } catch (const Error& ex) {
      row["error"] = ex.what();
    }
  }
  return row;
}

std::string csv_cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number_float()) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v.get<double>());
    return b;
  }
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  for (char& c : s) if (c == '\n' || c == '\r') c = ' ';
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Written under a temporary name and renamed: readers never see half a file.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    if (!f) throw InputError(tmp, "cannot write");
  }
  fs::rename(tmp, path);
}

}  // namespace

nlohmann::json write_cohort_summary(const std::string& out, const std::vector<CohortEntry>& cohort) {
  nlohmann::json rows = nlohmann::json::array();
  int done = 0, failed = 0;
  for (const CohortEntry& e : cohort) {
    rows.push_back(row_of(out, e));
    done += rows.back()["status"] == "done";
    failed += rows.back()["status"] == "failed";
  }
  const nlohmann::json summary = {{"patients", rows}, {"done", done}, {"failed", failed},
                                  {"pending", static_cast<int>(cohort.size()) - done - failed}};
  static const char* columns[] = {"id", "status", "goals_passed", "goals_failed", "ptv_d95_gy",
                                  "ptv_d2_gy", "rectum_mean_gy", "bladder_mean_gy",
                                  "mu_per_fraction", "mu_per_gy", "delivery_time_s", "total_seconds",
                                  "protocol", "path", "error"};
  std::string csv;
  for (const char* c : columns) csv += std::string(csv.empty() ? "" : ",") + c;
  csv += "\n";
  for (const auto& r : rows) {
    std::string line;
    bool first = true;
    for (const char* c : columns) {
      line += (first ? "" : ",") + csv_cell(r.contains(c) ? r[c] : nlohmann::json());
      first = false;
    }
    csv += line + "\n";
  }
  write_atomically(out + "/cohort_summary.json", summary.dump(2) + "\n");
  write_atomically(out + "/cohort_summary.csv", csv);
  return summary;
}

}  // namespace vmatplan
