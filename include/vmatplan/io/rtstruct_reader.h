#pragma once
// Reading an RTSTRUCT and rasterizing its ROIs onto a CT grid.
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

// Every ROI of the RT Structure Set file, with contours and a mask on ct_grid (even-odd
// rule, sub-voxel coverage). Refuses (InputError naming the file) an RTSTRUCT whose frame
// of reference differs from frame_of_reference_uid (when that is non-empty), unless it
// references the CT series identity->series_instance_uid itself (some tools write a fresh
// frame of reference UID): then it is read with a warning. Only CLOSED_PLANAR contours are
// kept and rasterized; POINT/OPEN contours are counted in a warning. ROIs without contours
// are kept with an empty mask and a warning. Sets identity->structure_set_sop_instance_uid.
std::vector<Structure> read_rtstruct(const std::string& file, const ImageGrid& ct_grid,
                                     const std::string& frame_of_reference_uid,
                                     DicomIdentity* identity,
                                     std::vector<std::string>* warnings);

}  // namespace vmatplan
