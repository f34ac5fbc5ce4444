#pragma once
// One entry point for every patient format:
//   a folder of DICOM files (CT series + optional RTSTRUCT),
//   an image folder (ct.nii.gz + masks/), or a matRad .mat file.
#include <string>

#include "vmatplan/io/dicom_ct_reader.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct PatientLoadOptions {
  CtReadOptions ct;
  std::string rtstruct_path;  // a specific RTSTRUCT; default: the one in the folder whose
                              // frame of reference matches the CT
};

Patient load_patient(const std::string& path, const PatientLoadOptions& options = {});

}  // namespace vmatplan
