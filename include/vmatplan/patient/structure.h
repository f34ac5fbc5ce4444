#pragma once
// Structure: one region of interest of a structure set, with its mask on the CT grid.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/core/planar_contour.h"

namespace vmatplan {

struct Structure {
  int number = 0;              // ROI Number (3006,0022)
  std::string name;            // ROI Name as the patient's file spells it
  std::string type;            // RT ROI Interpreted Type: EXTERNAL, PTV, CTV, ORGAN, ...
  std::array<uint8_t, 3> color_rgb{255, 0, 0};
  Mask mask;                   // on the patient's CT grid
  // The planar contours the mask came from (RTSTRUCT input, phantoms); empty when the
  // structure came from a mask file.
  std::vector<PlanarContour> contours;
};

}  // namespace vmatplan
