#pragma once
// Checks at the patient boundary: a patient is refused before any work when its CT or
// masks are unusable (validate_ct, validate_patient), and planning refuses or warns about
// anatomy that makes a plan silently wrong (planning_checks).
//
//   Patient p = load_patient(dir);                 // the loaders call validate_patient
//   auto warnings = planning_checks(p, ptv, body, hu_table_max_hu);   // may throw
#include <string>
#include <vector>

#include "vmatplan/core/image_grid.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

// "" for a usable grid, else the problem: no voxels, a non-finite or non-positive spacing
// (or one above 100 mm), a non-finite origin, a direction that is not orthonormal.
std::string grid_problem(const ImageGrid& grid);

// InputError naming `source`: grid_problem(), non-finite voxels (NaN / Inf: a bad rescale
// slope, a damaged file), voxel values outside -10000..100000 HU, a voxel count that does
// not match the grid.
void validate_ct(const CtImage& ct, const std::string& source);

// validate_ct plus every structure: a mask on the CT grid with the right voxel count.
void validate_patient(const Patient& patient, const std::string& source);

// Planning on this target: ProcessingError when the target is empty or lies mostly
// (> 50 %) outside the body; warnings (one line each) for a target partly outside the body,
// a target touching the scan's first or last slice or its in-plane border, air inside the
// target, and CT values above `hu_table_max` (the HU -> density table clamps them: metal)
// inside the body on the slices the arcs irradiate (target extent +- 30 mm).
std::vector<std::string> planning_checks(const Patient& patient, const Structure& target,
                                         const Structure* body, double hu_table_max);

}  // namespace vmatplan
