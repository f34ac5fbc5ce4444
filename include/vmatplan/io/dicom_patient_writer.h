#pragma once
// Writing a Patient as DICOM: one CT Image Storage file per slice plus an RT Structure Set
// with every structure's contours (made from the mask when the structure has none).
// UIDs come from patient.identity; empty ones are made here and written back.
#include <string>

#include "vmatplan/patient/patient.h"

namespace vmatplan {

// Writes dir/CT_0001.dcm ... and dir/RS.dcm; dir must exist.
void write_dicom_patient(Patient& patient, const std::string& dir);

}  // namespace vmatplan
