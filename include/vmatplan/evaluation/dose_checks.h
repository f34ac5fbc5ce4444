#pragma once
// Checks at the dose boundary (`evaluate --dose/--reference`, `export --dose`): a dose image
// is refused before any work when it cannot be a dose in Gy, or when it does not cover the
// structure it is judged on (a dose lying beside the patient would pass "at most" goals at
// 0 Gy).
#include <string>

#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/patient/structure.h"

namespace vmatplan {

// InputError naming `path`: an unusable grid, non-finite voxels (NaN / Inf), negative dose
// below -0.01 Gy, or a maximum above 10000 Gy.
void validate_dose_image(const DoseImage& dose, const std::string& path);

// Percentage (0..100) of `s`'s voxels whose centre lies outside the dose grid.
double percent_outside_dose_grid(const Structure& s, const ImageGrid& dose_grid);

}  // namespace vmatplan
