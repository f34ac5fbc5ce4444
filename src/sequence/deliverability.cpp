#include "vmatplan/sequence/deliverability.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/sequence/delivery_timing.h"

namespace vmatplan {
namespace {

constexpr double kTolMm = 1e-3;   // positions are written to DICOM with finite digits
constexpr double kTolRel = 1e-6;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Collector {
  const DeliveryBeam& beam;
  std::vector<Violation>& out;
  void add(int cp, const std::string& kind, double value, double limit, const std::string& msg) {
    out.push_back({beam.number, cp, kind, value, limit, msg});
  }
};

// Leaf pairs whose leaf row overlaps the Y-jaw opening; pairs fully under a Y jaw may be
// closed without the dynamic gap (as in clinical plans, which park them at 0 gap).
bool pair_in_field(const DeliveryBeam& b, const DeliveryControlPoint& cp, int p) {
  if (b.y_jaw_type.empty()) return true;
  const double lo = b.leaf_boundaries_mm[p], hi = b.leaf_boundaries_mm[p + 1];
  return std::min(hi, cp.y2_mm) - std::max(lo, cp.y1_mm) > kTolMm;
}

void check_beam_level(const DeliveryBeam& b, const Machine& m, Collector& c) {
  const auto& mb = m.mlc.leaf_boundaries_mm;
  if (b.has_mlc()) {
    bool same = b.leaf_boundaries_mm.size() == mb.size();
    for (size_t i = 0; same && i < mb.size(); ++i)
      same = std::abs(b.leaf_boundaries_mm[i] - mb[i]) <= 0.01;
    if (!same)
      c.add(-1, "leaf_boundaries", static_cast<double>(b.pair_count()), m.mlc.pair_count(),
            "MLC leaf boundaries (" + std::to_string(b.pair_count()) + " pairs, " +
                num(b.leaf_boundaries_mm.front()) + ".." + num(b.leaf_boundaries_mm.back()) +
                " mm) differ from machine " + m.name + " (" + std::to_string(m.mlc.pair_count()) +
                " pairs, " + num(mb.front()) + ".." + num(mb.back()) + " mm)");
  }
  if (std::abs(b.energy_mv - m.nominal_energy_mv) > 1e-6)
    c.add(0, "energy", b.energy_mv, m.nominal_energy_mv,
          "nominal energy " + num(b.energy_mv) + " MV, machine has " + num(m.nominal_energy_mv) + " MV");
  if (!m.x_jaws.present && !b.x_jaw_type.empty())
    c.add(-1, "jaw", 1, 0, "beam has " + b.x_jaw_type + " jaws, machine " + m.name + " has no X jaws");
  if (b.dose_rate_mu_per_min > m.max_dose_rate_mu_per_min * (1 + kTolRel))
    c.add(0, "dose_rate", b.dose_rate_mu_per_min, m.max_dose_rate_mu_per_min,
          "dose rate set " + num(b.dose_rate_mu_per_min) + " MU/min above the machine maximum");
  const auto& cps = b.control_points;
  if (cps.empty()) return;
  if (std::abs(cps.front().cumulative_meterset_weight) > kTolRel)
    c.add(0, "meterset", cps.front().cumulative_meterset_weight, 0,
          "cumulative meterset weight of control point 0 is not 0");
  const double last = cps.back().cumulative_meterset_weight;
  if (std::abs(last - b.final_cumulative_meterset_weight) >
      kTolRel * std::max(1.0, std::abs(b.final_cumulative_meterset_weight)))
    c.add(static_cast<int>(cps.size()) - 1, "meterset", last, b.final_cumulative_meterset_weight,
          "last cumulative meterset weight differs from the final cumulative meterset weight");
  if (b.meterset_mu < 0) c.add(-1, "meterset", b.meterset_mu, 0, "negative beam meterset");
}

void check_jaws(const DeliveryBeam& b, const Machine& m, const DeliveryControlPoint& cp, int i,
                Collector& c) {
  auto check_pair = [&](const char* axis, double lo, double hi, const JawModel& jm) {
    const std::string a(axis);
    if (lo < jm.min_pos_mm - kTolMm)
      c.add(i, "jaw", lo, jm.min_pos_mm, a + "1 jaw " + num(lo) + " mm beyond its range");
    if (hi > jm.max_pos_mm + kTolMm)
      c.add(i, "jaw", hi, jm.max_pos_mm, a + "2 jaw " + num(hi) + " mm beyond its range");
    if (lo > jm.max_overtravel_mm + kTolMm)
      c.add(i, "jaw", lo, jm.max_overtravel_mm, a + "1 jaw crosses the axis beyond its overtravel");
    if (hi < -jm.max_overtravel_mm - kTolMm)
      c.add(i, "jaw", hi, -jm.max_overtravel_mm, a + "2 jaw crosses the axis beyond its overtravel");
    if (hi < lo - kTolMm) c.add(i, "jaw", hi - lo, 0, a + " jaws overlap (" + a + "2 < " + a + "1)");
  };
  if (!b.x_jaw_type.empty() && m.x_jaws.present) check_pair("X", cp.x1_mm, cp.x2_mm, m.x_jaws);
  if (!b.y_jaw_type.empty()) check_pair("Y", cp.y1_mm, cp.y2_mm, m.y_jaws);
}

void check_leaves(const DeliveryBeam& b, const Machine& m, const DeliveryControlPoint& cp, int i,
                  Collector& c) {
  const int n = b.pair_count();
  if (static_cast<int>(cp.leaf_x1_mm.size()) != n || static_cast<int>(cp.leaf_x2_mm.size()) != n) {
    c.add(i, "leaf_count", static_cast<double>(cp.leaf_x1_mm.size() + cp.leaf_x2_mm.size()), 2.0 * n,
          "control point lists a different number of leaves than the MLC has");
    return;
  }
  const MlcModel& mlc = m.mlc;
  double gap_min = 1e300, x1_lo = 1e300, x1_hi = -1e300, x2_lo = 1e300, x2_hi = -1e300;
  int gap_pair = -1, travel_bad = 0;
  double travel_worst = 0;
  for (int p = 0; p < n; ++p) {
    const double a = cp.leaf_x1_mm[p], z = cp.leaf_x2_mm[p];
    for (double x : {a, z})
      if (x < mlc.leaf_min_pos_mm - kTolMm || x > mlc.leaf_max_pos_mm + kTolMm) {
        ++travel_bad;
        travel_worst = std::abs(x) > std::abs(travel_worst) ? x : travel_worst;
      }
    const double gap = z - a;
    // Opposing leaves never collide; inside the field they keep the minimum dynamic gap.
    const bool need_gap = pair_in_field(b, cp, p);
    if ((gap < -kTolMm || (need_gap && gap < mlc.min_dynamic_leaf_gap_mm - kTolMm)) && gap < gap_min) {
      gap_min = gap;
      gap_pair = p;
    }
    x1_lo = std::min(x1_lo, a), x1_hi = std::max(x1_hi, a);
    x2_lo = std::min(x2_lo, z), x2_hi = std::max(x2_hi, z);
    if (!mlc.interdigitation && p + 1 < n &&
        (a > cp.leaf_x2_mm[p + 1] + kTolMm || cp.leaf_x1_mm[p + 1] > z + kTolMm))
      c.add(i, "interdigitation", p + 1, 0,
            "leaf pairs " + std::to_string(p + 1) + " and " + std::to_string(p + 2) +
                " interdigitate; the MLC does not allow it");
  }
  if (gap_pair >= 0)
    c.add(i, "leaf_gap", gap_min, gap_min < 0 ? 0.0 : mlc.min_dynamic_leaf_gap_mm,
          "leaf pair " + std::to_string(gap_pair + 1) + " gap " + num(gap_min) + " mm below " +
              num(gap_min < 0 ? 0.0 : mlc.min_dynamic_leaf_gap_mm) + " mm");
  if (travel_bad > 0)
    c.add(i, "leaf_travel", travel_worst, travel_worst < 0 ? mlc.leaf_min_pos_mm : mlc.leaf_max_pos_mm,
          std::to_string(travel_bad) + " leaf tip(s) outside the travel range " +
              num(mlc.leaf_min_pos_mm) + ".." + num(mlc.leaf_max_pos_mm) + " mm");
  const double span = std::max(x1_hi - x1_lo, x2_hi - x2_lo);
  if (span > mlc.max_leaf_span_mm + kTolMm)
    c.add(i, "leaf_span", span, mlc.max_leaf_span_mm,
          "leaves of one bank spread " + num(span) + " mm, more than the maximum span");
}

void check_interval(const DeliveryBeam& b, const Machine& m, const DeliveryLimits& lim, size_t i,
                    Collector& c) {
  const auto& from = b.control_points[i];
  const auto& to = b.control_points[i + 1];
  const int cp = static_cast<int>(i + 1);
  const double dw = to.cumulative_meterset_weight - from.cumulative_meterset_weight;
  if (dw < -kTolRel * std::max(1.0, b.final_cumulative_meterset_weight))
    c.add(cp, "meterset", to.cumulative_meterset_weight, from.cumulative_meterset_weight,
          "cumulative meterset weight decreases (" + num(from.cumulative_meterset_weight) +
              " -> " + num(to.cumulative_meterset_weight) + ")");
  const double step = gantry_step_deg(from, to);
  if (step > m.max_cp_spacing_deg + 1e-6)
    c.add(cp, "cp_spacing", step, m.max_cp_spacing_deg,
          "gantry step " + num(step) + " deg larger than the control-point spacing limit");
  const IntervalTiming t = beam_interval_timing(b, i, lim);
  if (!t.feasible()) {
    // The interval would need a dose rate below the minimum: the leaves or the gantry cannot
    // go fast enough for so few MU.
    const double t_leaves = t.max_leaf_travel_mm / lim.max_leaf_speed_mm_per_s;
    const double t_gantry = step / lim.max_gantry_speed_deg_per_s;
    if (t_leaves > t.max_time_s * (1 + 1e-9))
      c.add(cp, "leaf_speed", t.max_leaf_travel_mm / t.max_time_s, lim.max_leaf_speed_mm_per_s,
            "leaf travel " + num(t.max_leaf_travel_mm) + " mm for " + num(t.mu) +
                " MU needs leaf speed " + num(t.max_leaf_travel_mm / t.max_time_s) +
                " mm/s at the minimum dose rate");
    if (t_gantry > t.max_time_s * (1 + 1e-9))
      c.add(cp, "gantry_speed", step / t.max_time_s, lim.max_gantry_speed_deg_per_s,
            "gantry step " + num(step) + " deg for " + num(t.mu) + " MU needs gantry speed " +
                num(step / t.max_time_s) + " deg/s at the minimum dose rate");
  }
  if (step > 1e-6 && t.mu > 0) {
    const double mupd = t.mu / step;
    if (mupd < m.min_mu_per_degree * (1 - 1e-6))
      c.add(cp, "mu_per_degree", mupd, m.min_mu_per_degree,
            num(mupd) + " MU/deg below the minimum");
    if (mupd > m.max_mu_per_degree * (1 + 1e-6))
      c.add(cp, "mu_per_degree", mupd, m.max_mu_per_degree,
            num(mupd) + " MU/deg above the maximum");
  }
  if (to.dose_rate_mu_per_min > 0 &&
      (to.dose_rate_mu_per_min > m.max_dose_rate_mu_per_min * (1 + kTolRel) ||
       to.dose_rate_mu_per_min < m.min_dose_rate_mu_per_min * (1 - kTolRel)))
    c.add(cp, "dose_rate", to.dose_rate_mu_per_min,
          to.dose_rate_mu_per_min > m.max_dose_rate_mu_per_min ? m.max_dose_rate_mu_per_min
                                                               : m.min_dose_rate_mu_per_min,
          "dose rate set " + num(to.dose_rate_mu_per_min) + " MU/min outside the machine range");
}

}  // namespace

std::vector<Violation> check_deliverability(const DeliveryPlan& plan, const Machine& machine) {
  std::vector<Violation> out;
  for (const DeliveryBeam& b : plan.beams) {
    Collector c{b, out};
    check_beam_level(b, machine, c);
    const DeliveryLimits lim = DeliveryLimits::of(machine, b.dose_rate_mu_per_min);
    for (size_t i = 0; i < b.control_points.size(); ++i) {
      check_jaws(b, machine, b.control_points[i], static_cast<int>(i), c);
      if (b.has_mlc())
        check_leaves(b, machine, b.control_points[i], static_cast<int>(i), c);
      if (i + 1 < b.control_points.size()) check_interval(b, machine, lim, i, c);
    }
  }
  return out;
}

std::vector<std::string> machine_name_mismatches(const DeliveryPlan& plan, const Machine& m) {
  std::vector<std::string> out;
  for (const DeliveryBeam& b : plan.beams)
    if (!m.answers_to(b.machine_name))
      out.push_back("beam " + std::to_string(b.number) + ": TreatmentMachineName '" + b.machine_name +
                    "' is not machine " + m.name + " (DICOM name '" + m.dicom_name +
                    "'): a planning system would not match this plan to it");
  return out;
}

nlohmann::json violations_to_json(const std::vector<Violation>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& x : v)
    a.push_back({{"beam", x.beam}, {"cp", x.cp}, {"kind", x.kind}, {"value", x.value},
                 {"limit", x.limit}, {"message", x.message}});
  return a;
}

std::string format_violation(const Violation& v) {
  std::string where = "beam " + std::to_string(v.beam);
  if (v.cp >= 0) where += " cp " + std::to_string(v.cp);
  return where + " " + v.kind + ": " + v.message;
}


Machine resolve_machine(const DeliveryPlan& plan, const std::string& requested, std::string& how) {
  if (!requested.empty()) {
    how = "as requested";
    return Machine::load_named(requested);
  }
  if (plan.beams.empty()) throw ProcessingError("the plan has no beams; pass --machine");
  const DeliveryBeam& b = plan.beams.front();
  try {
    Machine m = Machine::load_named(b.machine_name);
    how = "by treatment machine name";
    return m;
  } catch (const Error&) {
  }
  std::vector<std::string> names;
  for (const std::string& dir : machine_search_dirs()) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() != ".json") continue;
      Machine m;
      try {
        m = Machine::load(e.path().string());
      } catch (const Error&) {
        continue;  // not a machine config (e.g. beam data)
      }
      const auto& mb = m.mlc.leaf_boundaries_mm;
      bool same = b.has_mlc() && mb.size() == b.leaf_boundaries_mm.size() &&
                  m.x_jaws.present == !b.x_jaw_type.empty();
      for (size_t i = 0; same && i < mb.size(); ++i) same = std::abs(mb[i] - b.leaf_boundaries_mm[i]) <= 0.01;
      if (same) names.push_back(e.path().string());
    }
  }
  // The plan names a machine this installation does not know: an input problem (exit 1).
  if (names.size() != 1)
    throw ProcessingError("treatment machine '" + b.machine_name + "' is not a machine config and " +
                     std::to_string(names.size()) +
                     " configs match its MLC; pass --machine NAME");
  how = "by MLC leaf boundaries";
  return Machine::load(names.front());
}

}  // namespace vmatplan
