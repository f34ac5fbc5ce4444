#pragma once
// The dose grid and what the ray tracer needs on it: relative electron density (RED) and
// the voxels to compute (inside the body).
//
//   DoseVolume v = make_dose_volume(patient, 5.0, HuToRed::load_default());
//   double d = radiological_depth_mm(v, voxel_index, source_lps);
#include <cstdint>
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/dose/hu_to_red.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DoseVolume {
  ImageGrid grid;                        // isotropic, aligned with the CT's corner
  std::vector<float> red;                // per dose voxel; 0 outside the body
  std::vector<int64_t> compute_voxels;   // linear indices of the voxels to compute
};

struct DoseVolumeOptions {
  double spacing_mm = 5.0;
  std::string body_role = "body";  // StructureRoles role; HU > -400 when absent
  const Mask* compute_mask = nullptr;  // optional, on the CT grid: compute only here
};

// An isotropic grid with the CT's direction cosines, covering the CT's extent (corner
// aligned). RED is the box average of the CT voxels whose centres fall in a dose voxel
// (nearest CT voxel when none does); a dose voxel is in the body when at least half of
// those CT voxels are.
DoseVolume make_dose_volume(const Patient& patient, const DoseVolumeOptions& options,
                            const HuToRed& table);

// Radiological depth (water-equivalent mm) of the centre of dose voxel `voxel` seen from
// `source_lps`: the exact path integral of RED through the piecewise-constant voxels
// between the point and the source (a 3-D DDA, equivalent to Siddon, Med Phys 12:252,
// 1985), clipped to the grid.
double radiological_depth_mm(const DoseVolume& volume, int64_t voxel, const Vec3& source_lps);

}  // namespace vmatplan
