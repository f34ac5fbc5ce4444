#pragma once
// NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) and NRRD (.nrrd, .nhdr) through ITK.
// ITK keeps images in LPS whatever the file stores (NIfTI is RAS on disk), so grids here
// are LPS as everywhere in vmatplan.
#include <string>

#include "vmatplan/core/image3d.h"

namespace vmatplan {

CtImage read_image_float(const std::string& path);   // any pixel type, converted
Mask read_mask(const std::string& path);             // any pixel type, nonzero = 1
void write_image(const CtImage& image, const std::string& path);
// CT as int16 HU (what clinical tools expect); values are rounded and clamped.
void write_ct_int16(const CtImage& image, const std::string& path);
void write_mask(const Mask& mask, const std::string& path);

}  // namespace vmatplan
