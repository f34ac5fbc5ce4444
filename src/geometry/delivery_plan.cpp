#include "vmatplan/geometry/delivery_plan.h"

#include <algorithm>
#include <cmath>

#include "vmatplan/core/error.h"
#include "json_fields.h"

namespace vmatplan {
namespace {

using nlohmann::json;

using json_fields::Reader;
using json_fields::direction_name;

json cp_to_json(const DeliveryControlPoint& cp) {
  return {{"gantry_deg", cp.gantry_deg},
          {"gantry_direction", direction_name(cp.gantry_direction)},
          {"collimator_deg", cp.collimator_deg},
          {"couch_deg", cp.couch_deg},
          {"jaws_mm", {cp.x1_mm, cp.x2_mm, cp.y1_mm, cp.y2_mm}},
          {"leaf_x1_mm", cp.leaf_x1_mm},
          {"leaf_x2_mm", cp.leaf_x2_mm},
          {"cumulative_meterset_weight", cp.cumulative_meterset_weight},
          {"dose_rate_mu_per_min", cp.dose_rate_mu_per_min}};
}

DeliveryControlPoint cp_from_json(const json& j, const Reader& r, const std::string& ctx,
                                  int pairs) {
  DeliveryControlPoint cp;
  cp.gantry_deg = r.number(j, "gantry_deg", ctx);
  cp.gantry_direction = r.direction(j, "gantry_direction", ctx);
  cp.collimator_deg = r.number(j, "collimator_deg", ctx);
  cp.couch_deg = r.number(j, "couch_deg", ctx);
  auto jaws = r.numbers(j, "jaws_mm", ctx);
  if (jaws.size() != 4) r.fail(ctx + "jaws_mm", "expected 4 values [x1, x2, y1, y2]");
  cp.x1_mm = jaws[0], cp.x2_mm = jaws[1], cp.y1_mm = jaws[2], cp.y2_mm = jaws[3];
  cp.leaf_x1_mm = r.numbers(j, "leaf_x1_mm", ctx);
  cp.leaf_x2_mm = r.numbers(j, "leaf_x2_mm", ctx);
  if (static_cast<int>(cp.leaf_x1_mm.size()) != pairs ||
      static_cast<int>(cp.leaf_x2_mm.size()) != pairs)
    r.fail(ctx + "leaf_x1_mm", "expected " + std::to_string(pairs) + " leaves per bank");
  cp.cumulative_meterset_weight = r.number(j, "cumulative_meterset_weight", ctx);
  cp.dose_rate_mu_per_min = r.number(j, "dose_rate_mu_per_min", ctx);
  return cp;
}

}  // namespace

double DeliveryBeam::interval_mu(size_t i) const {
  if (i + 1 >= control_points.size() || final_cumulative_meterset_weight <= 0) return 0.0;
  const double dw = control_points[i + 1].cumulative_meterset_weight -
                    control_points[i].cumulative_meterset_weight;
  return meterset_mu * dw / final_cumulative_meterset_weight;
}

double DeliveryPlan::total_mu_per_fraction() const {
  double mu = 0;
  for (const auto& b : beams) mu += b.meterset_mu;
  return mu;
}

double gantry_step_deg(const DeliveryControlPoint& from, const DeliveryControlPoint& to) {
  return gantry_step_deg(from.gantry_deg, to.gantry_deg, from.gantry_direction);
}

double gantry_step_deg(double from_deg, double to_deg, RotationDirection direction) {
  const double d = to_deg - from_deg;
  auto wrap = [](double a) {
    double r = std::fmod(a, 360.0);
    if (r < 0) r += 360.0;
    return r > 360.0 - 1e-9 ? 0.0 : r;
  };
  switch (direction) {
    case RotationDirection::kClockwise: return wrap(d);
    case RotationDirection::kCounterClockwise: return wrap(-d);
    default: {
      const double a = wrap(d);
      return std::min(a, 360.0 - a) < 1e-9 ? 0.0 : std::min(a, 360.0 - a);
    }
  }
}

json delivery_plan_to_json(const DeliveryPlan& plan) {
  json beams = json::array();
  for (const auto& b : plan.beams) {
    json cps = json::array();
    for (const auto& cp : b.control_points) cps.push_back(cp_to_json(cp));
    beams.push_back({{"number", b.number},
                     {"name", b.name},
                     {"machine_name", b.machine_name},
                     {"beam_type", b.beam_type},
                     {"radiation_type", b.radiation_type},
                     {"delivery_type", b.delivery_type},
                     {"energy_mv", b.energy_mv},
                     {"dose_rate_mu_per_min", b.dose_rate_mu_per_min},
                     {"sad_mm", b.sad_mm},
                     {"isocenter_mm", b.isocenter_mm},
                     {"meterset_mu", b.meterset_mu},
                     {"final_cumulative_meterset_weight", b.final_cumulative_meterset_weight},
                     {"x_jaw_type", b.x_jaw_type},
                     {"y_jaw_type", b.y_jaw_type},
                     {"leaf_boundaries_mm", b.leaf_boundaries_mm},
                     {"control_points", cps}});
  }
  const DicomIdentity& id = plan.identity;
  return {{"format", "vmatplan-delivery"},
          {"version", 1},
          {"label", plan.label},
          {"sop_instance_uid", plan.sop_instance_uid},
          {"identity", {{"patient_id", id.patient_id},
                        {"patient_name", id.patient_name},
                        {"study_instance_uid", id.study_instance_uid},
                        {"series_instance_uid", id.series_instance_uid},
                        {"frame_of_reference_uid", id.frame_of_reference_uid},
                        {"structure_set_sop_instance_uid", id.structure_set_sop_instance_uid},
                        {"patient_position", id.patient_position}}},
          {"patient_position", plan.patient_position},
          {"prescription_dose_gy", plan.prescription_dose_gy},
          {"fractions", plan.fractions},
          {"target_name", plan.target_name},
          {"beams", beams}};
}

DeliveryPlan delivery_plan_from_json(const json& j, const std::string& source) {
  Reader r{source};
  const std::string ctx = "delivery.";
  if (!j.is_object()) r.fail("delivery", "expected an object");
  if (r.string(j, "format", ctx) != "vmatplan-delivery")
    r.fail(ctx + "format", "expected \"vmatplan-delivery\"");
  DeliveryPlan p;
  p.label = r.string(j, "label", ctx);
  p.sop_instance_uid = r.string(j, "sop_instance_uid", ctx);
  const json& id = r.at(j, "identity", ctx);
  const std::string ictx = ctx + "identity.";
  p.identity.patient_id = r.string(id, "patient_id", ictx);
  p.identity.patient_name = r.string(id, "patient_name", ictx);
  p.identity.study_instance_uid = r.string(id, "study_instance_uid", ictx);
  p.identity.series_instance_uid = r.string(id, "series_instance_uid", ictx);
  p.identity.frame_of_reference_uid = r.string(id, "frame_of_reference_uid", ictx);
  p.identity.structure_set_sop_instance_uid = r.string(id, "structure_set_sop_instance_uid", ictx);
  p.identity.patient_position = r.string(id, "patient_position", ictx);
  p.patient_position = r.string(j, "patient_position", ctx);
  p.prescription_dose_gy = r.number(j, "prescription_dose_gy", ctx);
  p.fractions = static_cast<int>(r.number(j, "fractions", ctx));
  if (p.fractions < 1) r.fail(ctx + "fractions", "must be at least 1");
  p.target_name = r.string(j, "target_name", ctx);
  const json& beams = r.at(j, "beams", ctx);
  if (!beams.is_array()) r.fail(ctx + "beams", "expected an array");
  for (size_t i = 0; i < beams.size(); ++i) {
    const std::string bctx = ctx + "beams[" + std::to_string(i) + "].";
    const json& jb = beams[i];
    DeliveryBeam b;
    b.number = static_cast<int>(r.number(jb, "number", bctx));
    b.name = r.string(jb, "name", bctx);
    b.machine_name = r.string(jb, "machine_name", bctx);
    b.beam_type = r.string(jb, "beam_type", bctx);
    b.radiation_type = r.string(jb, "radiation_type", bctx);
    b.delivery_type = r.string(jb, "delivery_type", bctx);
    b.energy_mv = r.number(jb, "energy_mv", bctx);
    b.dose_rate_mu_per_min = r.number(jb, "dose_rate_mu_per_min", bctx);
    b.sad_mm = r.number(jb, "sad_mm", bctx);
    auto iso = r.numbers(jb, "isocenter_mm", bctx);
    if (iso.size() != 3) r.fail(bctx + "isocenter_mm", "expected 3 values");
    b.isocenter_mm = {iso[0], iso[1], iso[2]};
    b.meterset_mu = r.number(jb, "meterset_mu", bctx);
    b.final_cumulative_meterset_weight = r.number(jb, "final_cumulative_meterset_weight", bctx);
    b.x_jaw_type = r.string(jb, "x_jaw_type", bctx);
    b.y_jaw_type = r.string(jb, "y_jaw_type", bctx);
    b.leaf_boundaries_mm = r.numbers(jb, "leaf_boundaries_mm", bctx);
    if (b.leaf_boundaries_mm.size() == 1)
      r.fail(bctx + "leaf_boundaries_mm", "expected pairs + 1 values");
    const json& cps = r.at(jb, "control_points", bctx);
    if (!cps.is_array() || cps.empty())
      r.fail(bctx + "control_points", "expected a non-empty array");
    for (size_t c = 0; c < cps.size(); ++c)
      b.control_points.push_back(cp_from_json(
          cps[c], r, bctx + "control_points[" + std::to_string(c) + "].", b.pair_count()));
    p.beams.push_back(std::move(b));
  }
  validate_delivery_plan(p, source);
  return p;
}

void validate_delivery_plan(const DeliveryPlan& plan, const std::string& source) {
  if (plan.beams.empty()) throw InputError(source, "plan has no beams");
  if (plan.fractions < 1) throw InputError(source, "number of fractions is below 1");
  if (!std::isfinite(plan.prescription_dose_gy) || plan.prescription_dose_gy < 0)
    throw InputError(source, "prescription dose is not a finite number >= 0");
  for (const DeliveryBeam& b : plan.beams) {
    const std::string bn = "beam '" + b.name + "' (number " + std::to_string(b.number) + ")";
    auto fail = [&](const std::string& what) { throw InputError(source, bn + ": " + what); };
    auto finite = [&](double v, const std::string& what) {
      if (!std::isfinite(v)) fail(what + " is not a finite number");
    };
    finite(b.energy_mv, "nominal beam energy");
    if (b.energy_mv <= 0) fail("nominal beam energy is missing or not positive");
    finite(b.dose_rate_mu_per_min, "dose rate");
    if (b.dose_rate_mu_per_min < 0) fail("dose rate is negative");
    finite(b.sad_mm, "source-axis distance");
    if (!(b.sad_mm > 0)) fail("source-axis distance is not positive");
    for (double v : b.isocenter_mm) finite(v, "isocentre position");
    finite(b.meterset_mu, "beam meterset");
    if (b.meterset_mu < 0) fail("beam meterset " + std::to_string(b.meterset_mu) + " MU is negative");
    finite(b.final_cumulative_meterset_weight, "final cumulative meterset weight");
    if (!(b.final_cumulative_meterset_weight > 0)) fail("final cumulative meterset weight is not positive");
    for (size_t i = 0; i < b.leaf_boundaries_mm.size(); ++i) {
      finite(b.leaf_boundaries_mm[i], "an MLC leaf boundary");
      if (i > 0 && !(b.leaf_boundaries_mm[i] > b.leaf_boundaries_mm[i - 1]))
        fail("MLC leaf position boundaries do not increase");
    }
    if (b.control_points.empty()) fail("no control points");
    const size_t pairs = static_cast<size_t>(b.pair_count());
    double previous_weight = 0;
    for (size_t c = 0; c < b.control_points.size(); ++c) {
      const DeliveryControlPoint& cp = b.control_points[c];
      const std::string at = "control point " + std::to_string(c) + ": ";
      auto angle = [&](double v, const char* what) {
        if (!std::isfinite(v)) fail(at + what + " is not a finite number");
        if (v < 0 || v > 360) fail(at + what + " " + std::to_string(v) + " deg is outside 0..360");
      };
      angle(cp.gantry_deg, "gantry angle");
      angle(cp.collimator_deg, "collimator angle");
      angle(cp.couch_deg, "couch angle");
      for (double v : {cp.x1_mm, cp.x2_mm, cp.y1_mm, cp.y2_mm}) {
        finite(v, at + "a jaw position");
        if (std::abs(v) > 1000) fail(at + "jaw position " + std::to_string(v) + " mm is beyond +-1000 mm");
      }
      if (cp.leaf_x1_mm.size() != pairs || cp.leaf_x2_mm.size() != pairs)
        fail(at + "MLC lists " + std::to_string(cp.leaf_x1_mm.size() + cp.leaf_x2_mm.size()) +
             " leaf positions, the beam's MLC has " + std::to_string(2 * pairs));
      for (const auto* bank : {&cp.leaf_x1_mm, &cp.leaf_x2_mm})
        for (double v : *bank) {
          finite(v, at + "a leaf position");
          if (std::abs(v) > 1000) fail(at + "leaf position " + std::to_string(v) + " mm is beyond +-1000 mm");
        }
      finite(cp.cumulative_meterset_weight, at + "cumulative meterset weight");
      finite(cp.dose_rate_mu_per_min, at + "dose rate");
      if (cp.cumulative_meterset_weight < 0) fail(at + "cumulative meterset weight is negative");
      if (cp.cumulative_meterset_weight < previous_weight - 1e-9)
        fail(at + "cumulative meterset weight decreases (" + std::to_string(previous_weight) + " -> " +
             std::to_string(cp.cumulative_meterset_weight) + ")");
      if (cp.cumulative_meterset_weight > b.final_cumulative_meterset_weight * (1 + 1e-6) + 1e-9)
        fail(at + "cumulative meterset weight exceeds the final cumulative meterset weight");
      previous_weight = cp.cumulative_meterset_weight;
    }
  }
}

PlanGeometry delivered_geometry(const DeliveryPlan& delivery, const PlanGeometry& planned) {
  PlanGeometry g = planned;
  for (size_t b = 0; b < delivery.beams.size() && b < g.beams.size(); ++b) {
    g.beams[b].control_points.clear();
    for (const auto& cp : delivery.beams[b].control_points)
      g.beams[b].control_points.push_back({cp.gantry_deg, cp.collimator_deg, cp.couch_deg});
  }
  return g;
}

DeliveryPlan subdivide_arcs(const DeliveryPlan& plan, double max_step_deg) {
  if (!(max_step_deg > 0)) throw UsageError("sub-arc step must be positive");
  DeliveryPlan out = plan;
  for (DeliveryBeam& b : out.beams) {
    const std::vector<DeliveryControlPoint>& cps = b.control_points;
    if (cps.size() < 2) continue;
    std::vector<DeliveryControlPoint> fine{cps.front()};
    for (size_t i = 0; i + 1 < cps.size(); ++i) {
      const DeliveryControlPoint &a = cps[i], &z = cps[i + 1];
      const double step = gantry_step_deg(a, z);
      const int n = std::max(1, static_cast<int>(std::ceil(step / max_step_deg - 1e-9)));
      const double sign = a.gantry_direction == RotationDirection::kCounterClockwise ? -1.0 : 1.0;
      for (int k = 1; k < n; ++k) {
        const double t = static_cast<double>(k) / n;
        auto lerp = [t](double u, double v) { return u + t * (v - u); };
        DeliveryControlPoint c = a;
        c.gantry_deg = std::fmod(a.gantry_deg + sign * t * step + 720.0, 360.0);
        c.x1_mm = lerp(a.x1_mm, z.x1_mm), c.x2_mm = lerp(a.x2_mm, z.x2_mm);
        c.y1_mm = lerp(a.y1_mm, z.y1_mm), c.y2_mm = lerp(a.y2_mm, z.y2_mm);
        for (size_t p = 0; p < c.leaf_x1_mm.size() && p < z.leaf_x1_mm.size(); ++p) {
          c.leaf_x1_mm[p] = lerp(a.leaf_x1_mm[p], z.leaf_x1_mm[p]);
          c.leaf_x2_mm[p] = lerp(a.leaf_x2_mm[p], z.leaf_x2_mm[p]);
        }
        c.cumulative_meterset_weight = lerp(a.cumulative_meterset_weight, z.cumulative_meterset_weight);
        fine.push_back(std::move(c));
      }
      fine.push_back(z);
    }
    b.control_points = std::move(fine);
  }
  return out;
}

}  // namespace vmatplan
