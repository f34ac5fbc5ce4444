#pragma once
// Arc leaf sequencing: fluence maps on an arc -> one MLC aperture and a meterset weight per
// control point, within the machine's limits. Two methods (SequencerMethod):
//
// kApertures (the default; issue 11): one aperture per delivery control point, leaves
// moving continuously across control points within the leaf speed at the gantry speed
// used (cf. SmartArc's arc sequencing, Bzdusek et al., Med Phys 36:2328, 2009).
//  0. Each input control-point interval is split into equal delivery intervals of at most
//     `aperture_cp_spacing_deg`; an input control point's fluence is shared by the
//     intervals around it as in kSweep.
//  1. The arc is cut into sectors of about `aperture_sector_deg`. A sector's fluence S is
//     delivered with the same MU m = max(S) / K in each of its K intervals, and its control
//     point k opens each leaf pair over the hull of the bixels where S > k m: nested
//     apertures that shrink through one sector and grow through the next, so the leaves
//     move little and consecutive sectors meet at apertures of the same size. Interval
//     fluence is the mean of its two apertures (leaves move linearly), so the sector
//     receives S rounded to within m / 2 where the rows are unimodal.
//  2. Closed pairs wait where they open next; pairs never open stay parked.
//  3. MU per interval is raised to the machine's minimum MU per degree and minimum dose
//     rate; leaf travel per interval is clamped to the leaf speed times the interval's
//     shortest duration (backward, then forward pass), so the gantry never has to slow
//     down for the leaves.
// The plan is then refined by direct aperture optimisation (optimize/aperture_optimizer.h).
// MU per sector = the sector's fluence maximum, against its largest row modulation
// divided by the sweep efficiency for kSweep, and leaves travel far less: fewer MU and a
// beam-on time close to the gantry's full-speed rotation.
//
// kSweep (issue 5): sector-wise sliding window (Craft et al., "Multicriteria VMAT
// optimization", Med Phys 39:686, 2012, "arc sequencing"; cf. the sliding-window VMAT of
// Papp & Unkelbach, Med Phys 41:011701, 2014 and Christiansen et al., PMB 63:085012, 2018):
//  0. Each input control-point interval is split into equal delivery intervals of at most
//     `delivery_cp_spacing_deg`.
//  1. The arc is cut into sectors of about `sector_deg`; a sector's fluence is the sum of
//     its intervals' fluence (each control point's map is shared half/half by the two
//     intervals next to it).
//  2. Each sector's fluence is delivered by one unidirectional sweep of every active leaf
//     pair across that pair's fluence extent, alternating the direction from sector to
//     sector so that the leaves end where the next sweep starts. The leaf trajectories are
//     the minimum-MU sliding-window solution (Spirou & Chui, Med Phys 21:1031, 1994; Stein
//     et al., Med Phys 21:1055, 1994): between bixel edges both leaves move at the row's
//     speed, and at an edge where fluence rises the trailing leaf waits, where it falls the
//     leading leaf waits, so that exposure = trailing-leaf MU - leading-leaf MU.
//  3. The sector's MU and duration are the smallest that let every row finish its sweep at
//     the (margin-reduced) maximum leaf speed, gantry speed and dose rate, and that keep the
//     dose rate and MU/degree above the machine minima (delivery_timing.h). Rows that need
//     fewer MU sweep more slowly, so all rows finish together.
//  4. Rows without fluence, and pairs outside the fluence grid, are closed (minimum dynamic
//     gap) and parked under the X1 jaw (or at the field edge when the machine has no X
//     jaws). The result is checked with check_deliverability(); a violation is a bug and
//     raises ProcessingError.
// The dose-based meterset re-optimization (recover quality lost here, issue 5) needs the
// dose engine and is not part of this step.
//
//   SequencedPlan s = sequence_arcs(load_plan("plan.json"), machine, SequencerOptions{});
#include <string>
#include <vector>

#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

enum class SequencerMethod { kApertures, kSweep };

// "apertures" or "sweep"; UsageError listing both otherwise.
SequencerMethod parse_sequencer_method(const std::string& name);
const char* to_string(SequencerMethod method);

struct SequencerOptions {
  SequencerMethod method = SequencerMethod::kApertures;
  // kApertures: sector length and delivery control-point spacing. A sector of K intervals
  // has K intensity levels; longer sectors give finer levels but deliver a sector's
  // fluence over a wider arc.
  double aperture_sector_deg = 24.0;
  double aperture_cp_spacing_deg = 2.0;
  // Level 0 opens where the sector's fluence exceeds this fraction of one level: bixels
  // with less get nothing instead of half a level.
  double aperture_floor = 0.25;
  // kSweep: arc length delivered by one sweep. A bixel is delivered when the leaves pass it, so
  // across a sector of S degrees the angle of delivery runs with the leaf position: at
  // depth z off the isocentre the sector's map is stretched or shrunk by about z S / W (W
  // the row's width) alternately from sector to sector. On phantom seed 1, apertures
  // without transmission against the fluence dose gave gamma(3 %/2 mm) 50 % with 20 deg
  // sectors, 77 % with 12 deg, 99 % with 8 deg (a one-off study, 2026-11-26, not a
  // committed benchmark; bench_sequence_study measures the defaults).
  double sector_deg = 8.0;
  // Largest gantry step between delivery control points: each input interval is split
  // into the fewest equal steps not above this. Sweeps sample the leaf trajectories at
  // control points only (leaves move linearly in between), so finer steps follow the
  // fluence more closely: relative RMS error of the delivered sector fluence 18 % at 2 deg,
  // 8 % at 1 deg, 5 % at 0.5 deg (4 deg input, 20 deg sectors, phantom seed 1; the same
  // one-off study).
  double delivery_cp_spacing_deg = 1.0;
  // Sweeps slow down (gantry and leaves) until the sector MU is at most the largest row
  // modulation (positive variation, MU) / this: fewer MU, less leakage through the leaves
  // and the leaf gap, at the cost of delivery time.
  double sweep_efficiency = 0.9;
  int static_beam_intervals = 12;    // sweep steps of a static beam (dynamic MLC)
  double limit_margin = 0.95;        // fraction of leaf speed, gantry speed, dose rate used
  double gap_margin_mm = 0.05;       // extra above the minimum dynamic leaf gap
  int fractions = 20;                // the fluence is for the whole plan, MU per fraction = / this
  double prescription_dose_gy = 60.0;
  std::string target_name = "PTV";
  std::string label = "vmatplan";
};

struct SequencedPlan {
  DeliveryPlan plan;
  // Per beam: the delivery control-point indices where sweeps start and end (first 0,
  // last N-1); input control point c is delivery control point c * subdivision.
  std::vector<std::vector<int>> sector_edges;
  int subdivision = 1;
};

SequencedPlan sequence_arcs(const PlanFile& fluence_plan, const Machine& machine,
                            const SequencerOptions& options = {});

// Sector edges (control-point indices) for `interval_count` intervals of `step_deg` each:
// about sector_deg per sector, sizes differing by at most one interval.
std::vector<int> sector_edges(int interval_count, double step_deg, double sector_deg);

}  // namespace vmatplan
