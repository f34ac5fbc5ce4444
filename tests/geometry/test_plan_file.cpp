#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

PlanFile sample_plan() {
  PlanFile p;
  p.machine_name = "generic_6mv_mlc120";
  p.geometry.isocenter_mm = {1.25, -33.5, 101.0};
  p.geometry.patient_position = "FFS";
  auto arcs = default_two_arcs(20.0);
  for (size_t i = 0; i < arcs.size(); ++i) {
    Beam b;
    b.name = "Arc " + std::to_string(i + 1);
    b.direction = arcs[i].direction;
    b.control_points = arc_control_points(arcs[i]);
    b.x1_mm = -41.5;
    b.x2_mm = 38.25;
    b.y1_mm = -30;
    b.y2_mm = 45.1;
    p.geometry.beams.push_back(b);
  }
  ArcSpec s;
  s.gantry_start_deg = s.gantry_stop_deg = 90;
  s.direction = RotationDirection::kNone;
  p.geometry.beams.push_back({"Beam 1", RotationDirection::kNone, arc_control_points(s)});
  Machine m = Machine::load_named(p.machine_name);
  p.fluence.grid = FluenceGrid::covering(m.mlc, -41.5, 38.25, -30, 45.1, 2.5);
  p.fluence.control_point_count = p.geometry.control_point_count();
  p.fluence.values.resize(static_cast<size_t>(p.fluence.control_point_count) *
                          p.fluence.grid.size_per_control_point());
  for (size_t i = 0; i < p.fluence.values.size(); ++i)
    p.fluence.values[i] = static_cast<float>(std::sin(0.37 * i)) / 3.0f;
  p.extra["history"] = {"phantom", "geometry"};
  return p;
}

}  // namespace

TEST_CASE("plan files round trip exactly", "[geometry][plan_file]") {
  auto dir = test::scratch_dir("plan_rt");
  PlanFile p = sample_plan();
  save_plan(p, dir + "/plan.json");
  CHECK(fs::exists(dir + "/plan.safetensors"));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 2);  // no leftovers
  PlanFile q = load_plan(dir + "/plan.json");
  CHECK(q.machine_name == p.machine_name);
  CHECK(q.geometry.isocenter_mm == p.geometry.isocenter_mm);
  CHECK(q.geometry.patient_position == "FFS");
  REQUIRE(q.geometry.beams.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const Beam &a = p.geometry.beams[i], &b = q.geometry.beams[i];
    CHECK(b.name == a.name);
    CHECK(b.direction == a.direction);
    CHECK(b.x1_mm == a.x1_mm);
    CHECK(b.x2_mm == a.x2_mm);
    CHECK(b.y1_mm == a.y1_mm);
    CHECK(b.y2_mm == a.y2_mm);
    REQUIRE(b.control_points.size() == a.control_points.size());
    for (size_t c = 0; c < a.control_points.size(); ++c) {
      CHECK(b.control_points[c].gantry_deg == a.control_points[c].gantry_deg);
      CHECK(b.control_points[c].collimator_deg == a.control_points[c].collimator_deg);
    }
  }
  CHECK(q.fluence.grid.row_edges_mm == p.fluence.grid.row_edges_mm);
  CHECK(q.fluence.grid.first_leaf_pair == p.fluence.grid.first_leaf_pair);
  CHECK(q.fluence.grid.x_min_mm == p.fluence.grid.x_min_mm);
  CHECK(q.fluence.grid.bixel_count == p.fluence.grid.bixel_count);
  CHECK(q.fluence.control_point_count == p.fluence.control_point_count);
  CHECK(q.fluence.values == p.fluence.values);  // bit-exact floats
  CHECK(q.extra == p.extra);
}

TEST_CASE("python3 reads the plan's fluence beside its JSON", "[geometry][plan_file]") {
  if (!test::have_program("/usr/bin/python3")) {
    VMATPLAN_TEST_WARN("skipped: /usr/bin/python3 not found");
    return;
  }
  auto dir = test::scratch_dir("plan_py");
  PlanFile p = sample_plan();
  save_plan(p, dir + "/plan.json");
  std::ofstream(dir + "/read.py") << R"(import json, os, struct, sys
plan = json.load(open(sys.argv[1]))
fl = plan["fluence"]
with open(os.path.join(os.path.dirname(sys.argv[1]), fl["file"]), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
t = header[fl["tensor"]]
b, e = t["data_offsets"]
vals = struct.unpack("<%df" % ((e - b) // 4), data[b:e])
cps = sum(len(beam["gantry_deg"]) for beam in plan["geometry"]["beams"])
assert t["shape"] == fl["shape"] and t["shape"][0] == cps
print(t["shape"][0], t["shape"][1], t["shape"][2], "%.6f" % sum(vals))
)";
  auto r = test::run_shell("/usr/bin/python3 " + dir + "/read.py " + dir + "/plan.json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  double sum = 0;
  for (float v : p.fluence.values) sum += v;
  char expect[128];
  std::snprintf(expect, sizeof expect, "%d %d %d %.6f\n", p.fluence.control_point_count,
                p.fluence.grid.row_count(), p.fluence.grid.bixel_count, sum);
  CHECK(r.out == expect);
}

TEST_CASE("bad plan files are input errors naming the file", "[geometry][plan_file]") {
  auto dir = test::scratch_dir("plan_bad");
  PlanFile p = sample_plan();
  save_plan(p, dir + "/plan.json");
  std::ifstream in(dir + "/plan.json");
  nlohmann::json j = nlohmann::json::parse(in);

  SECTION("fluence grid disagrees with the tensor") {
    j["fluence_grid"]["bixel_count"] = j["fluence_grid"]["bixel_count"].get<int>() + 1;
    std::ofstream(dir + "/plan.json") << j.dump();
    CHECK_THROWS_WITH(load_plan(dir + "/plan.json"), Contains("plan.safetensors") && Contains("shape"));
  }
  SECTION("geometry has fewer control points than the fluence") {
    j["geometry"]["beams"].erase(2);
    std::ofstream(dir + "/plan.json") << j.dump();
    CHECK_THROWS_WITH(load_plan(dir + "/plan.json"), Contains("control points"));
  }
  SECTION("a missing field is named") {
    j["geometry"]["beams"][1].erase("collimator_deg");
    std::ofstream(dir + "/plan.json") << j.dump();
    CHECK_THROWS_WITH(load_plan(dir + "/plan.json"),
                      Contains("plan.json") && Contains("geometry.beams[1].collimator_deg"));
  }
  SECTION("the tensor file is missing") {
    fs::remove(dir + "/plan.safetensors");
    CHECK_THROWS_WITH(load_plan(dir + "/plan.json"), Contains("plan.safetensors"));
  }
  SECTION("not a plan") {
    std::ofstream(dir + "/plan.json") << "{\"format\": \"other\"}";
    CHECK_THROWS_AS(load_plan(dir + "/plan.json"), InputError);
  }
}

TEST_CASE("saving a plan whose fluence does not fit its grid leaves nothing", "[geometry][plan_file]") {
  auto dir = test::scratch_dir("plan_refuse");
  PlanFile p = sample_plan();
  p.fluence.values.pop_back();
  CHECK_THROWS_AS(save_plan(p, dir + "/plan.json"), UsageError);
  CHECK(fs::is_empty(dir));
  // A geometry-only plan (no fluence yet) is allowed.
  PlanFile g = sample_plan();
  g.fluence.control_point_count = 0;
  g.fluence.values.clear();
  save_plan(g, dir + "/geom.json");
  CHECK(load_plan(dir + "/geom.json").fluence.control_point_count == 0);
}
