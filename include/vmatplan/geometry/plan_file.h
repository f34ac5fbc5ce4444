#pragma once
// The plan file that commands chain through: PLAN.json (geometry, machine, fluence grid,
// provenance, objective history...) beside PLAN.safetensors (fluence [cp, rows, bixels]).
//
//   save_plan(plan, "out/plan.json");     // writes plan.json + plan.safetensors
//   PlanFile p = load_plan("out/plan.json");
//
// PLAN.json (format "vmatplan-plan", version 1):
//   machine         machine name or config path
//   geometry        isocenter_mm [x,y,z] (LPS), patient_position, beams: [{name, direction
//                   (NONE|CW|CC), jaws_mm {x1,x2,y1,y2}, gantry_deg [...], collimator_deg
//                   [...], couch_deg [...]}] (one value per control point)
//   fluence_grid    first_leaf_pair, row_edges_mm [rows+1], bixel_width_mm, x_min_mm,
//                   bixel_count
//   fluence         file (beside the JSON), tensor "fluence", dtype F32, shape
//                   [control points, rows, bixels], units "MU"; shape [0, rows, bixels]
//                   for a plan without fluence yet
//   extra           free-form (history, provenance)
// In Python: header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0])).
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

// Staged, no partials. Without `overwrite` an existing PLAN.json or PLAN.safetensors is an
// InputError and nothing is replaced.
// The tensor file save_plan writes beside `json_path` (PLAN.json -> PLAN.safetensors).
std::string plan_tensor_path(const std::string& json_path);
void save_plan(const PlanFile& plan, const std::string& json_path, bool overwrite = true);
PlanFile load_plan(const std::string& json_path);                     // InputError on bad files

}  // namespace vmatplan
