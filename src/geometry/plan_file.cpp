#include "vmatplan/geometry/plan_file.h"

#include <filesystem>
#include <fstream>

#include "vmatplan/core/error.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/core/staged_output.h"
#include "json_fields.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "vmatplan-plan";
constexpr int kVersion = 1;

using json_fields::Reader;
using json_fields::direction_name;

std::string tensor_path_for(const std::string& json_path) {
  return fs::path(json_path).replace_extension(".safetensors").string();
}

json geometry_to_json(const PlanGeometry& g) {
  json beams = json::array();
  for (const Beam& b : g.beams) {
    json gantry = json::array(), coll = json::array(), couch = json::array();
    for (const auto& cp : b.control_points) {
      gantry.push_back(cp.gantry_deg);
      coll.push_back(cp.collimator_deg);
      couch.push_back(cp.couch_deg);
    }
    beams.push_back({{"name", b.name},
                     {"direction", direction_name(b.direction)},
                     {"jaws_mm", {{"x1", b.x1_mm}, {"x2", b.x2_mm}, {"y1", b.y1_mm}, {"y2", b.y2_mm}}},
                     {"gantry_deg", gantry},
                     {"collimator_deg", coll},
                     {"couch_deg", couch}});
  }
  return {{"isocenter_mm", g.isocenter_mm}, {"patient_position", g.patient_position},
          {"beams", beams}};
}

PlanGeometry geometry_from_json(const json& j, const Reader& r) {
  PlanGeometry g;
  auto iso = r.numbers(j, "isocenter_mm", "geometry.");
  if (iso.size() != 3) r.fail("geometry.isocenter_mm", "expected 3 values");
  g.isocenter_mm = {iso[0], iso[1], iso[2]};
  g.patient_position = r.string(j, "patient_position", "geometry.");
  const json& beams = r.at(j, "beams", "geometry.");
  if (!beams.is_array()) r.fail("geometry.beams", "expected an array");
  for (size_t i = 0; i < beams.size(); ++i) {
    const std::string ctx = "geometry.beams[" + std::to_string(i) + "].";
    const json& jb = beams[i];
    Beam b;
    b.name = r.string(jb, "name", ctx);
    std::string dir = r.string(jb, "direction", ctx);
    if (dir == "CW") b.direction = RotationDirection::kClockwise;
    else if (dir == "CC") b.direction = RotationDirection::kCounterClockwise;
    else if (dir == "NONE") b.direction = RotationDirection::kNone;
    else r.fail(ctx + "direction", "expected CW, CC or NONE, found '" + dir + "'");
    const json& jaws = r.at(jb, "jaws_mm", ctx);
    b.x1_mm = r.number(jaws, "x1", ctx + "jaws_mm.");
    b.x2_mm = r.number(jaws, "x2", ctx + "jaws_mm.");
    b.y1_mm = r.number(jaws, "y1", ctx + "jaws_mm.");
    b.y2_mm = r.number(jaws, "y2", ctx + "jaws_mm.");
    auto gantry = r.numbers(jb, "gantry_deg", ctx);
    auto coll = r.numbers(jb, "collimator_deg", ctx);
    auto couch = r.numbers(jb, "couch_deg", ctx);
    if (coll.size() != gantry.size() || couch.size() != gantry.size())
      r.fail(ctx + "gantry_deg", "gantry, collimator and couch lists differ in length");
    if (gantry.empty()) r.fail(ctx + "gantry_deg", "a beam needs at least one control point");
    for (size_t c = 0; c < gantry.size(); ++c) b.control_points.push_back({gantry[c], coll[c], couch[c]});
    g.beams.push_back(std::move(b));
  }
  return g;
}

}  // namespace

void save_plan(const PlanFile& plan, const std::string& json_path, bool overwrite) {
  const FluenceMaps& f = plan.fluence;
  const FluenceGrid& grid = f.grid;
  const int64_t expected = static_cast<int64_t>(f.control_point_count) * grid.size_per_control_point();
  if (f.control_point_count < 0 || static_cast<int64_t>(f.values.size()) != expected)
    throw UsageError("plan fluence holds " + std::to_string(f.values.size()) + " values, its shape [" +
                     std::to_string(f.control_point_count) + ", " + std::to_string(grid.row_count()) +
                     ", " + std::to_string(grid.bixel_count) + "] needs " + std::to_string(expected));
  if (f.control_point_count != 0 && f.control_point_count != plan.geometry.control_point_count())
    throw UsageError("plan fluence has " + std::to_string(f.control_point_count) +
                     " control points, the geometry " +
                     std::to_string(plan.geometry.control_point_count()));

  const std::string tensor_path = tensor_path_for(json_path);
  const std::vector<int64_t> shape{f.control_point_count, grid.row_count(), grid.bixel_count};
  json j = {{"format", kFormat},
            {"version", kVersion},
            {"machine", plan.machine_name},
            {"geometry", geometry_to_json(plan.geometry)},
            {"fluence_grid", {{"first_leaf_pair", grid.first_leaf_pair},
                              {"row_edges_mm", grid.row_edges_mm},
                              {"bixel_width_mm", grid.bixel_width_mm},
                              {"x_min_mm", grid.x_min_mm},
                              {"bixel_count", grid.bixel_count}}},
            {"fluence", {{"file", fs::path(tensor_path).filename().string()},
                         {"tensor", "fluence"},
                         {"dtype", "F32"},
                         {"shape", shape},
                         {"units", "MU"}}},
            {"extra", plan.extra}};

  SafeTensorsFile st;
  st.metadata["format"] = kFormat;
  st.metadata["plan_json"] = fs::path(json_path).filename().string();
  st.add_f32("fluence", shape, f.values);

  // Both files are staged and only renamed into place once both are complete.
  StagedOutput json_out(json_path, StagedOutput::Kind::kFile, overwrite);
  StagedOutput tensor_out(tensor_path, StagedOutput::Kind::kFile, overwrite);
  write_safetensors(st, tensor_out.path());
  {
    std::ofstream out(json_out.path());
    out << j.dump(2) << "\n";
    out.close();
    if (!out) throw InputError(json_path, "write failed");
  }
  tensor_out.commit();
  json_out.commit();
}

std::string plan_tensor_path(const std::string& json_path) { return tensor_path_for(json_path); }

PlanFile load_plan(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) throw InputError(json_path, "cannot open plan file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(json_path, std::string("not valid JSON: ") + e.what());
  }
  Reader r{json_path};
  if (!j.is_object() || !j.contains("format") || j["format"] != kFormat)
    throw InputError(json_path, "not a vmatplan plan file (format != \"vmatplan-plan\")");
  if (r.integer(j, "version", "") != kVersion)
    r.fail("version", "unsupported version (this build reads " + std::to_string(kVersion) + ")");

  PlanFile p;
  p.machine_name = r.string(j, "machine", "");
  p.geometry = geometry_from_json(r.at(j, "geometry", ""), r);
  if (j.contains("extra")) p.extra = j["extra"];

  const json& jg = r.at(j, "fluence_grid", "");
  FluenceGrid& grid = p.fluence.grid;
  grid.first_leaf_pair = r.integer(jg, "first_leaf_pair", "fluence_grid.");
  grid.row_edges_mm = r.numbers(jg, "row_edges_mm", "fluence_grid.");
  grid.bixel_width_mm = r.number(jg, "bixel_width_mm", "fluence_grid.");
  grid.x_min_mm = r.number(jg, "x_min_mm", "fluence_grid.");
  grid.bixel_count = r.integer(jg, "bixel_count", "fluence_grid.");
  if (grid.row_edges_mm.size() < 2) r.fail("fluence_grid.row_edges_mm", "needs at least 2 values");
  for (size_t i = 1; i < grid.row_edges_mm.size(); ++i)
    if (!(grid.row_edges_mm[i] > grid.row_edges_mm[i - 1]))
      r.fail("fluence_grid.row_edges_mm", "values must increase");
  if (!(grid.bixel_width_mm > 0)) r.fail("fluence_grid.bixel_width_mm", "must be positive");
  if (grid.bixel_count < 1) r.fail("fluence_grid.bixel_count", "must be positive");
  if (grid.first_leaf_pair < 0) r.fail("fluence_grid.first_leaf_pair", "must be >= 0");

  const json& jf = r.at(j, "fluence", "");
  const std::string file = r.string(jf, "file", "fluence.");
  const std::string tensor_name = r.string(jf, "tensor", "fluence.");
  const std::string tensor_path = (fs::path(json_path).parent_path() / file).string();
  SafeTensorsFile st = read_safetensors(tensor_path);
  auto it = st.tensors.find(tensor_name);
  if (it == st.tensors.end())
    throw InputError(tensor_path, "no tensor '" + tensor_name + "' (named in " + json_path + ")");
  const SafeTensor& t = it->second;
  if (t.dtype != "F32") throw InputError(tensor_path, "fluence dtype is " + t.dtype + ", expected F32");
  if (t.shape.size() != 3 || t.shape[1] != grid.row_count() || t.shape[2] != grid.bixel_count)
    throw InputError(tensor_path, "fluence shape does not match the fluence grid in " + json_path);
  std::vector<int64_t> declared;
  for (double d : r.numbers(jf, "shape", "fluence.")) declared.push_back(static_cast<int64_t>(d));
  if (declared != t.shape)
    throw InputError(tensor_path, "fluence shape differs from fluence.shape in " + json_path);
  const int cps = static_cast<int>(t.shape[0]);
  if (cps != 0 && cps != p.geometry.control_point_count())
    throw InputError(tensor_path, "fluence has " + std::to_string(cps) + " control points, " +
                                      json_path + " describes " +
                                      std::to_string(p.geometry.control_point_count()));
  p.fluence.control_point_count = cps;
  p.fluence.values = t.as<float>();
  return p;
}

}  // namespace vmatplan
