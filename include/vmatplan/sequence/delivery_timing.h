#pragma once
// The delivery time model, in one place (used by the sequencer, the checker and the
// complexity figures). A VMAT linac modulates gantry speed and dose rate so that, between
// two control points, the gantry turns dtheta while MU_i are delivered and every leaf moves
// linearly with the meterset (DICOM PS3.3 C.8.8.14.8). The interval takes
//   t = max(dtheta / max_gantry_speed, MU_i / max_dose_rate, max_leaf_travel / max_leaf_speed)
// and cannot take longer than MU_i / min_dose_rate while the beam is on (beam-off moves,
// MU_i = 0, may take any time). An interval is deliverable when t <= that longest time.
//
//   DeliveryLimits lim = DeliveryLimits::of(machine, beam.dose_rate_mu_per_min);
//   IntervalTiming t = interval_timing(mu, step_deg, travel_mm, lim);
#include <limits>
#include <string>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

struct DeliveryLimits {
  double max_gantry_speed_deg_per_s = 6.0;
  double max_dose_rate_mu_per_min = 600.0;
  double min_dose_rate_mu_per_min = 20.0;
  double max_leaf_speed_mm_per_s = 25.0;
  // The machine's limits; a beam's DoseRateSet (> 0) lowers the maximum dose rate.
  static DeliveryLimits of(const Machine& machine, double beam_dose_rate_mu_per_min = 0.0);
};

struct IntervalTiming {
  double mu = 0;                   // delivered in the interval (per fraction)
  double gantry_step_deg = 0;
  double max_leaf_travel_mm = 0;
  double time_s = 0;               // the shortest time the limits allow
  double max_time_s = std::numeric_limits<double>::infinity();  // MU_i / min dose rate
  std::string limited_by;          // "gantry", "dose_rate", "leaves" or "none"
  bool feasible() const { return time_s <= max_time_s * (1 + 1e-9) + 1e-12; }
  double gantry_speed_deg_per_s() const { return time_s > 0 ? gantry_step_deg / time_s : 0; }
  double dose_rate_mu_per_min() const { return time_s > 0 ? 60.0 * mu / time_s : 0; }
  double leaf_speed_mm_per_s() const { return time_s > 0 ? max_leaf_travel_mm / time_s : 0; }
};

IntervalTiming interval_timing(double mu, double gantry_step_deg, double max_leaf_travel_mm,
                               const DeliveryLimits& limits);

// Largest travel of any leaf (and of any jaw) between control points i and i+1.
double max_leaf_travel_mm(const DeliveryBeam& beam, size_t i);

// Timing of interval i of a beam (MU from the beam meterset and weights).
IntervalTiming beam_interval_timing(const DeliveryBeam& beam, size_t i,
                                    const DeliveryLimits& limits);

// Sum of the shortest interval times of a beam (beam-on time, no set-up), seconds.
double beam_delivery_time_s(const DeliveryBeam& beam, const DeliveryLimits& limits);

}  // namespace vmatplan
