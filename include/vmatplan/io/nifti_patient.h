#pragma once
// The image-folder patient layout:
//   DIR/ct.nii.gz (or ct.nii, ct.mha, ct.nrrd)
//   DIR/masks/NAME.nii.gz (or .nii, .mha, .nrrd), one per structure, on the CT grid
//   DIR/structures.json (optional: number, type and colour per name)
#include <string>

#include "vmatplan/patient/patient.h"

namespace vmatplan {

bool looks_like_image_folder(const std::string& dir);
Patient read_image_folder_patient(const std::string& dir);
// Writes ct.nii.gz, masks/NAME.nii.gz and structures.json into dir (which must exist).
void write_image_folder_patient(const Patient& patient, const std::string& dir);

}  // namespace vmatplan
