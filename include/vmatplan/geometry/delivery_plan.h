#pragma once
// DeliveryPlan: what a linac delivers — per beam, control points with gantry/collimator/
// couch angles, jaws, MLC leaf positions and cumulative meterset weights (the content of a
// DICOM RT Plan, PS3.3 C.8.8.14). It lives in geometry so that io can write and read it
// and sequence can make and check it.
//
//   DeliveryPlan plan = sequence_plan(fluence_plan, machine, options);   // sequence/
//   nlohmann::json j = delivery_plan_to_json(plan);                      // PLAN2.json
//   DeliveryPlan back = delivery_plan_from_json(j, "PLAN2.json");
//
// Conventions: positions in mm at the isocentre plane in IEC BEAM LIMITING DEVICE
// coordinates. Leaf banks follow the DICOM Leaf/Jaw Positions order (300A,011C): leaves
// 1xx (the X1 / negative side, "bank A" in the toolchain notes) first, then 2xx (X2).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/core/image_grid.h"
#include "vmatplan/geometry/arc.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DeliveryControlPoint {
  double gantry_deg = 0.0;
  RotationDirection gantry_direction = RotationDirection::kNone;
  double collimator_deg = 0.0;
  double couch_deg = 0.0;
  double x1_mm = 0, x2_mm = 0, y1_mm = 0, y2_mm = 0;  // jaws (ignored when absent)
  std::vector<double> leaf_x1_mm;  // bank X1 (DICOM leaves 101..1N), one per pair
  std::vector<double> leaf_x2_mm;  // bank X2 (DICOM leaves 201..2N)
  double cumulative_meterset_weight = 0.0;
  double dose_rate_mu_per_min = 0.0;  // DoseRateSet (300A,0115) when given here, else 0
};

struct DeliveryBeam {
  int number = 1;
  std::string name;
  std::string machine_name;                // TreatmentMachineName (300A,00B2)
  std::string beam_type = "DYNAMIC";       // DYNAMIC or STATIC
  std::string radiation_type = "PHOTON";
  std::string delivery_type = "TREATMENT"; // TREATMENT or SETUP (300A,00CE)
  double energy_mv = 6.0;                  // NominalBeamEnergy
  double dose_rate_mu_per_min = 600.0;     // DoseRateSet at control point 0; 0 = not given
  double sad_mm = 1000.0;
  Vec3 isocenter_mm{0, 0, 0};              // LPS
  double meterset_mu = 0.0;                // BeamMeterset per fraction (300A,0086)
  double final_cumulative_meterset_weight = 1.0;
  // Which beam-limiting devices the beam has; DICOM names kept for a faithful rewrite.
  std::string x_jaw_type = "ASYMX";        // "ASYMX", "X" or "" (no X jaws)
  std::string y_jaw_type = "ASYMY";        // "ASYMY", "Y" or ""
  std::vector<double> leaf_boundaries_mm;  // MLCX boundaries, pairs + 1; empty: no MLC
  std::vector<DeliveryControlPoint> control_points;

  bool has_mlc() const { return !leaf_boundaries_mm.empty(); }
  int pair_count() const { return has_mlc() ? static_cast<int>(leaf_boundaries_mm.size()) - 1 : 0; }
  // Meterset of the interval from control point i to i+1, in MU per fraction.
  double interval_mu(size_t i) const;
};

struct DeliveryPlan {
  std::string label = "vmatplan";          // RTPlanLabel
  std::string sop_instance_uid;            // the RT Plan's own UID (RT Dose refers to it)
  DicomIdentity identity;                  // patient, study, frame of reference, RTSTRUCT
  std::string patient_position = "HFS";
  double prescription_dose_gy = 0.0;       // total over all fractions; 0 = not given
  int fractions = 1;
  std::string target_name;                 // dose reference description
  std::vector<DeliveryBeam> beams;

  double total_mu_per_fraction() const;
};

nlohmann::json delivery_plan_to_json(const DeliveryPlan& plan);
// InputError naming `source` and the bad field.
DeliveryPlan delivery_plan_from_json(const nlohmann::json& j, const std::string& source);

// The structural check every reader runs (RT Plan, PLAN2.json) before a plan is used:
// InputError naming `source`, the beam and control point, for no beams or control points;
// a non-finite value anywhere; angles outside 0..360 deg; jaw or leaf positions beyond
// +-1000 mm; leaf boundaries that do not increase; a control point whose MLC lists another
// number of leaves than the beam's MLC has pairs; cumulative meterset weights that are
// negative, decrease, or end elsewhere than the final cumulative meterset weight (> 0); a
// negative beam meterset or energy; fractions < 1. Machine limits are `check`'s business
// (sequence/deliverability.h), not this function's.
void validate_delivery_plan(const DeliveryPlan& plan, const std::string& source);

// Cumulative gantry rotation from control point i to i+1 in the beam's direction of
// rotation (IEC 61217: CW increases the angle), in [0, 360); 0 for NONE.
double gantry_step_deg(const DeliveryControlPoint& from, const DeliveryControlPoint& to);
// The same for two gantry angles and a direction (planned geometry, before delivery).
double gantry_step_deg(double from_deg, double to_deg, RotationDirection direction);

// The geometry a delivery realises: `planned` with each beam's control points replaced by
// the delivered ones (the sequencer subdivides intervals; dose from apertures must be
// computed on these). Beams beyond either list are left as they are.
PlanGeometry delivered_geometry(const DeliveryPlan& delivery, const PlanGeometry& planned);

// The same delivery with each control-point interval that rotates the gantry by more than
// max_step_deg split into n = ceil(step / max_step_deg) equal sub-arcs. The new control
// points interpolate gantry angle, jaws, leaves and cumulative meterset weight linearly
// between the two original ones, as the machine moves them (PS3.3 C.8.8.14.8: positions
// change linearly with the meterset, the gantry at constant speed within an interval);
// collimator, couch and dose rate are those of the interval's start. Dose computed per
// control point of the result integrates each arc in steps of at most max_step_deg.
// UsageError when max_step_deg is not positive.
DeliveryPlan subdivide_arcs(const DeliveryPlan& plan, double max_step_deg);

}  // namespace vmatplan
