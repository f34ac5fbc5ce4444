#pragma once
// Reading a dose distribution in Gy: a DICOM RT Dose (PS3.3 A.18, what a planning system
// exports and what `generate` writes) or an image file (NIfTI, MetaImage, NRRD) through ITK.
//
//   DoseFileInfo info;
//   Image3D<float> dose = read_dose("RD.dcm", &info);   // or "dose.nii.gz"
//   check_dose_against_patient(dose, info, patient, "RD.dcm", &warnings);
//
// RT Dose: pixel values (16 or 32 bit, unsigned or signed) x DoseGridScaling (3004,000E);
// frames along the normal of ImageOrientationPatient at GridFrameOffsetVector (relative to
// ImagePositionPatient when its first value is 0, else absolute positions along the normal)
// which must be uniformly spaced; DoseUnits GY (or CGY, converted). RELATIVE doses, other
// SOP classes and compressed pixel data that DCMTK cannot decode are refused (InputError).
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DoseFileInfo {
  std::string format;                  // "RTDOSE" or "image"
  std::string frame_of_reference_uid;  // RT Dose only
  std::string study_instance_uid;
  std::string patient_id;
  std::string dose_type;               // PHYSICAL, EFFECTIVE, ERROR
  std::string summation_type;          // PLAN, BEAM, FRACTION, ...
  std::string referenced_plan_uid;     // ReferencedRTPlanSequence, "" when none
  double dose_grid_scaling = 1.0;
};

// True when the file carries the DICOM preamble ("DICM" at byte 128).
bool is_dicom_file(const std::string& path);

// A DICOM RT Dose file. InputError naming the file and the problem.
Image3D<float> read_rtdose(const std::string& path, DoseFileInfo* info = nullptr);

// RT Dose when the file is DICOM (preamble, or any existing file not named .nii, .nii.gz,
// .mha, .mhd, .nrrd or .nhdr), else an image through ITK (read_image_float).
Image3D<float> read_dose(const std::string& path, DoseFileInfo* info = nullptr);

// Checks that a dose belongs to the patient: the RT Dose frame of reference must be the
// patient's (unless allow_other_frame; then a warning), and the dose grid must overlap
// the CT (a dose on a grid that misses the CT is refused). InputError naming `path`.
void check_dose_against_patient(const Image3D<float>& dose, const DoseFileInfo& info,
                                const Patient& patient, const std::string& path,
                                std::vector<std::string>* warnings, bool allow_other_frame = false);

}  // namespace vmatplan
