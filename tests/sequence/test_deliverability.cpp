#include <catch2/catch.hpp>

#include <algorithm>

#include "test_support.h"
#include "vmatplan/io/rtplan_reader.h"
#include "vmatplan/sequence/complexity.h"
#include "vmatplan/sequence/deliverability.h"
#include "vmatplan/sequence/delivery_timing.h"

using namespace vmatplan;

namespace {

bool has_kind(const std::vector<Violation>& v, const std::string& kind, int cp = -2) {
  return std::any_of(v.begin(), v.end(), [&](const Violation& x) {
    return x.kind == kind && (cp == -2 || x.cp == cp);
  });
}

// An open static 100 x 100 mm field on the generic Millennium machine.
DeliveryPlan open_field(const Machine& m) {
  DeliveryPlan p;
  p.prescription_dose_gy = 60, p.fractions = 20;
  DeliveryBeam b;
  b.name = "open";
  b.machine_name = m.name;
  b.beam_type = "STATIC";
  b.leaf_boundaries_mm = m.mlc.leaf_boundaries_mm;
  b.meterset_mu = 300;
  DeliveryControlPoint cp;
  cp.x1_mm = cp.y1_mm = -50, cp.x2_mm = cp.y2_mm = 50;
  cp.leaf_x1_mm.assign(m.mlc.pair_count(), -50);
  cp.leaf_x2_mm.assign(m.mlc.pair_count(), 50);
  b.control_points = {cp, cp};
  b.control_points[1].cumulative_meterset_weight = 1;
  p.beams.push_back(b);
  return p;
}

}  // namespace

TEST_CASE("the time model takes the slowest of gantry, dose rate and leaves", "[sequence][timing]") {
  DeliveryLimits lim;  // 6 deg/s, 600 MU/min, 20 MU/min, 25 mm/s
  auto g = interval_timing(4.0, 4.0, 5.0, lim);  // 0.667 s gantry, 0.4 s dose, 0.2 s leaves
  CHECK(g.limited_by == "gantry");
  CHECK(g.time_s == Approx(4.0 / 6.0));
  CHECK(g.feasible());
  auto d = interval_timing(20.0, 4.0, 5.0, lim);  // 2 s at 600 MU/min
  CHECK(d.limited_by == "dose_rate");
  CHECK(d.dose_rate_mu_per_min() == Approx(600));
  auto l = interval_timing(4.0, 4.0, 50.0, lim);  // 2 s for 50 mm
  CHECK(l.limited_by == "leaves");
  CHECK(l.gantry_speed_deg_per_s() == Approx(2.0));
  auto bad = interval_timing(0.1, 4.0, 50.0, lim);  // 0.1 MU may last at most 0.3 s
  CHECK(bad.max_time_s == Approx(0.3));
  CHECK_FALSE(bad.feasible());
  CHECK(interval_timing(0.0, 0.0, 80.0, lim).feasible());  // beam-off leaf move
}

TEST_CASE("an open field is deliverable with MCSv 1 and its MU/Gy", "[sequence][complexity]") {
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  const DeliveryPlan p = open_field(m);
  CHECK(check_deliverability(p, m).empty());
  const PlanComplexity c = compute_complexity(p, m);
  CHECK(c.mcsv == Approx(1.0));
  CHECK(c.sas10 == 0.0);
  CHECK(c.total_mu == 300);
  CHECK(c.mu_per_gy == Approx(100.0));  // 300 MU for 3 Gy per fraction
  CHECK(c.delivery_time_s == Approx(30.0));
}

TEST_CASE("the checker flags each kind of limit", "[sequence][checker]") {
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  DeliveryPlan p = open_field(m);
  auto& cps = p.beams[0].control_points;
  cps[1].leaf_x1_mm[30] = 60;          // crosses its partner: collision
  cps[1].leaf_x2_mm[31] = 250;         // beyond the travel range
  cps[1].x1_mm = -230;                 // X1 jaw beyond its range
  p.beams[0].energy_mv = 10;
  auto v = check_deliverability(p, m);
  CHECK(has_kind(v, "leaf_gap", 1));
  CHECK(has_kind(v, "leaf_travel", 1));
  CHECK(has_kind(v, "jaw", 1));
  CHECK(has_kind(v, "energy", 0));
  CHECK(has_kind(v, "leaf_span", 1));  // 250 - (-50) > 150 mm

  DeliveryPlan q = open_field(m);
  q.beams[0].control_points[1].cumulative_meterset_weight = 0.5;  // final weight is 1
  CHECK(has_kind(check_deliverability(q, m), "meterset"));
  q.beams[0].leaf_boundaries_mm.pop_back();
  CHECK(has_kind(check_deliverability(q, m), "leaf_boundaries", -1));
}

TEST_CASE("the Varian VMAT plan passes with the HD120 machine; corrupted copies are flagged",
          "[sequence][checker]") {
  const std::string f = test::data_file("dicom/pymedphys/RP.almost_anonymised.dcm");
  VMATPLAN_SKIP_IF_EMPTY(f, "pymedphys RP.almost_anonymised.dcm");
  const DeliveryPlan plan = read_rtplan(f);
  const Machine hd = Machine::load_named("generic_6mv_hd120");
  const auto ok = check_deliverability(plan, hd);
  INFO((ok.empty() ? std::string() : format_violation(ok.front())));
  CHECK(ok.empty());
  std::string how;
  CHECK(resolve_machine(plan, "", how).name == "generic_6mv_hd120");
  // Its MLC is an HD120 (2.5 mm central leaves): the Millennium machine does not match.
  CHECK(has_kind(check_deliverability(plan, Machine::load_named("generic_6mv_mlc120")),
                 "leaf_boundaries", -1));

  const PlanComplexity c = compute_complexity(plan, hd);
  CHECK(c.total_mu == Approx(393));
  CHECK(c.mcsv > 0.1);
  CHECK(c.mcsv < 0.9);
  CHECK(c.delivery_time_s >= 356.0 / 6.0);  // at least one full-speed rotation

  DeliveryPlan jump = plan;  // a leaf jumps into the opposing bank
  auto& cp = jump.beams[0].control_points[40];
  const int pair = 30;
  cp.leaf_x1_mm[pair] = cp.leaf_x2_mm[pair] + 30;
  CHECK(has_kind(check_deliverability(jump, hd), "leaf_gap", 40));

  DeliveryPlan back = plan;  // a decreasing meterset weight
  back.beams[0].control_points[50].cumulative_meterset_weight =
      back.beams[0].control_points[48].cumulative_meterset_weight;
  CHECK(has_kind(check_deliverability(back, hd), "meterset", 50));

  DeliveryPlan fast = plan;  // 60 mm leaf move within 0.1 MU: too fast even at 20 MU/min
  auto& cps = fast.beams[0].control_points;
  const double w = cps[60].cumulative_meterset_weight;
  cps[61].cumulative_meterset_weight = w + 0.1 / 393.0;
  for (int p = 20; p < 40; ++p) cps[61].leaf_x1_mm[p] -= 60, cps[61].leaf_x2_mm[p] -= 60;
  auto v = check_deliverability(fast, hd);
  CHECK(has_kind(v, "leaf_speed", 61));
  CHECK(has_kind(v, "mu_per_degree", 61));

  DeliveryPlan sparse = plan;  // a missing control point: an 8 degree gantry step
  sparse.beams[0].control_points.erase(sparse.beams[0].control_points.begin() + 20);
  CHECK(has_kind(check_deliverability(sparse, hd), "cp_spacing", 20));
}
