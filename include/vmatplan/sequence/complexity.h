#pragma once
// Complexity and delivery figures of a deliverable plan.
//  - MU per fraction and MU/Gy (per fraction dose = prescription / fractions).
//  - Leaf travel: sum over leaves and intervals of |dx| (mm).
//  - MCSv, the modulation complexity score for VMAT (Masi et al., Med Phys 40:071718, 2013):
//    per control point the leaf sequence variability LSV (McNiven et al., Med Phys 37:505,
//    2010) of the open leaves in the field and the aperture area variability AAV (aperture
//    area / the beam's largest per-pair opening), averaged over each interval's two control
//    points and weighted by the interval's MU. 1 = open, unmodulated; lower = more complex.
//  - Small-aperture score SAS(x) (Crowe et al., Australas Phys Eng Sci Med 37:475, 2014):
//    fraction of open leaf pairs in the field with a gap below x mm, MU-weighted.
//  - Estimated beam-on time from the time model (delivery_timing.h).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

struct BeamComplexity {
  int number = 0;
  std::string name;
  double mu = 0;               // per fraction
  double leaf_travel_mm = 0;
  double mcsv = 1.0;
  double sas5 = 0, sas10 = 0;
  double delivery_time_s = 0;
};

struct PlanComplexity {
  double total_mu = 0;         // per fraction
  double mu_per_gy = 0;        // 0 when the plan has no prescription
  double leaf_travel_mm = 0;
  double mean_leaf_travel_mm = 0;  // per leaf that moves, per beam
  double mean_leaf_travel_mm_per_deg = 0;  // per leaf that moves, per degree of arc
  double mcsv = 1.0;           // MU-weighted over beams
  double sas5 = 0, sas10 = 0;  // MU-weighted over beams
  double delivery_time_s = 0;
  std::vector<BeamComplexity> beams;
};

PlanComplexity compute_complexity(const DeliveryPlan& plan, const Machine& machine);
nlohmann::json complexity_to_json(const PlanComplexity& c);

}  // namespace vmatplan
