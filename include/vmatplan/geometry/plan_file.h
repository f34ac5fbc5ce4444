#pragma once
// The plan file that commands chain through: PLAN.json (geometry, machine, fluence grid,
// provenance, objective history...) beside PLAN.safetensors (fluence [cp, rows, bixels]).
//
//   save_plan(plan, "out/plan.json");     // writes plan.json + plan.safetensors
//   PlanFile p = load_plan("out/plan.json");
#include <string>

#include <nlohmann/json.hpp>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/fluence_grid.h"

namespace vmatplan {

struct PlanFile {
  std::string machine_name;      // a configs/machines name or a path
  PlanGeometry geometry;
  FluenceMaps fluence;
  nlohmann::json extra = nlohmann::json::object();  // history, provenance, free-form
};

void save_plan(const PlanFile& plan, const std::string& json_path);  // staged, no partials
PlanFile load_plan(const std::string& json_path);                     // InputError on bad files

}  // namespace vmatplan
