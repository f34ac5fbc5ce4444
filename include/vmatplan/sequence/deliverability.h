#pragma once
// Deliverability checker, shared by the sequencer (which must emit plans that pass it) and
// `vmatplan check`. Every limit comes from the machine config; timing from
// delivery_timing.h. It lists every violation, per control point (or per interval, reported
// at the interval's second control point), never stopping at the first.
//
//   auto v = check_deliverability(plan, Machine::load_named("generic_6mv_hd120"));
//   if (v.empty()) ...deliverable
//
// Kinds: leaf_boundaries, leaf_count, energy, dose_rate, meterset, cp_spacing,
// gantry_speed, leaf_speed, mu_per_degree, leaf_gap, leaf_travel, leaf_span,
// interdigitation, jaw.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

struct Violation {
  int beam = 0;        // BeamNumber
  int cp = -1;         // control point index; -1 for the beam as a whole
  std::string kind;
  double value = 0;    // what the plan has (or needs)
  double limit = 0;    // what the machine allows
  std::string message; // one line, with units
};

std::vector<Violation> check_deliverability(const DeliveryPlan& plan, const Machine& machine);

nlohmann::json violations_to_json(const std::vector<Violation>& v);
std::string format_violation(const Violation& v);  // "beam 1 cp 12 leaf_gap: ..."

// Beams whose TreatmentMachineName is neither the machine's name nor its DICOM machine
// name, one message each. Not a delivery limit (a foreign plan may be checked against a
// stand-in machine), so reported beside the violations, not among them.
std::vector<std::string> machine_name_mismatches(const DeliveryPlan& plan, const Machine& machine);

// The machine to check `plan` against: `requested` (a config name or path) when given, else
// the config named like the plan's TreatmentMachineName (file name, config name or DICOM
// machine name, in machine_search_dirs()), else the one config there whose MLC leaf
// boundaries (and X-jaw presence) match the plan's. `how` tells which rule chose it.
// ProcessingError (exit code 1) when none or several match.
Machine resolve_machine(const DeliveryPlan& plan, const std::string& requested, std::string& how);

}  // namespace vmatplan
