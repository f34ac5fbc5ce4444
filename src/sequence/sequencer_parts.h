#pragma once
// Pieces shared by the two arc sequencers (arc_sequencer.cpp: sector sweeps;
// aperture_sequencer.cpp: one aperture per control point). Private to the sequence layer.
#include <string>
#include <vector>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/sequence/arc_sequencer.h"

namespace vmatplan::sequencer_parts {

struct Limits {  // margin-reduced machine limits, per second and per fraction
  double leaf_mm_s, dose_mu_s, min_dose_mu_s, gantry_deg_s, min_mu_deg, max_mu_deg;
};
Limits margin_limits(const Machine& m, double margin);

// A leaf pair with fluence somewhere in the beam: grid row, MLC pair, bixels [lo, hi).
struct ActiveRow {
  int row = 0, pair = 0, lo = 0, hi = 0;
};

// The delivery control points of a beam and the fluence each interval must deliver.
struct BeamTargets {
  std::vector<ControlPointGeometry> cps;    // delivery control points
  std::vector<std::vector<double>> target;  // per interval: rows x bixels, MU per fraction
  std::vector<double> step_deg;             // per interval
  bool is_static = false;
  int subdivision = 1;                      // delivery intervals per input interval
};

// Each input control-point interval becomes `subdivision` equal gantry steps. An input
// control point's map stands for the arc around it: it is shared half/half by the two
// intervals next to it (arc ends keep all of theirs, so MU is conserved), and an input
// interval's fluence is shared evenly by its delivery intervals. A static beam becomes
// `static_beam_intervals` intervals of one control point's fluence (one target).
BeamTargets beam_targets(const PlanFile& plan, int beam_index, int first_cp,
                         const SequencerOptions& o, int subdivision);

// Rows with fluence anywhere in the beam, inside the X jaws, and their bixel extent.
std::vector<ActiveRow> active_rows(const Beam& beam, const FluenceGrid& grid,
                                   const std::vector<std::vector<double>>& target, bool x_jaws);

// Where closed, unused pairs wait: under the X1 jaw, or (no X jaws) at the left edge of
// the rows' fluence. Returns the X2 leaf position; X1 is `gap` further left.
double park_position_mm(const Beam& beam, const FluenceGrid& grid,
                        const std::vector<ActiveRow>& rows, bool x_jaws);

// A beam with every control point's geometry and jaws set, every pair parked closed at
// `park_x2_mm`, meterset weights still 0.
DeliveryBeam beam_skeleton(const PlanFile& plan, int beam_index, const Machine& m,
                           const std::vector<ControlPointGeometry>& cps, bool is_static,
                           double park_x2_mm, double gap_mm);

// Sets cumulative meterset weights and BeamMeterset from per-interval MU (per fraction).
void set_meterset(DeliveryBeam& beam, const std::vector<double>& interval_mu);

}  // namespace vmatplan::sequencer_parts
