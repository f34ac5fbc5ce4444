#pragma once
// Builds the plan geometry of a patient: isocentre at the target's centroid (unless given),
// control points of each arc, and jaws fitted to the target's beam's-eye view + a margin.
//
//   Machine m = Machine::load_named("generic_6mv_mlc120");
//   PlanGeometry g = build_plan_geometry(patient, m, default_two_arcs(), "PTV", 5.0, {});
//   FluenceGrid grid = fluence_grid_for_plan(g, m, 5.0);
#include <optional>
#include <string>
#include <vector>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/beams_eye_view.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

// Centre of mass of a mask's voxels in LPS; ProcessingError when the mask is empty.
Vec3 mask_centroid_mm(const Mask& mask);

// Jaws of `beam` (BLD, isocentre plane) = union over its control points of the target's
// projected extent, grown by margin_mm, then checked against the machine: a field larger
// than the jaws or the MLC can open is a ProcessingError naming the beam; a jaw that
// would cross the central axis further than its overtravel is opened to the limit.
void fit_jaws_to_target(Beam& beam, const VoxelCloud& target, const PlanGeometry& geometry,
                        const Machine& machine, double margin_mm);

// Arcs -> beams (names "Arc 1", ...; static beams "Beam N"), isocentre at the target's
// centroid unless `isocenter` is given, jaws fitted to the target. Arc spacing above the
// machine's max_cp_spacing_deg is a UsageError; a missing target a ProcessingError that
// lists the structures the patient has.
PlanGeometry build_plan_geometry(const Patient& patient, const Machine& machine,
                                 const std::vector<ArcSpec>& arcs,
                                 const std::string& target_structure_name,
                                 double jaw_margin_mm, std::optional<Vec3> isocenter);

// One fluence grid for every control point of the plan: the leaf pairs and bixels (x = 0
// on a bixel edge) covering the union of all beams' jaw openings.
FluenceGrid fluence_grid_for_plan(const PlanGeometry& geometry, const Machine& machine,
                                  double bixel_width_mm = 5.0);

}  // namespace vmatplan
