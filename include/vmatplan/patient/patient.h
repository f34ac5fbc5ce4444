#pragma once
// Patient = CT in Hounsfield units + structure set + the DICOM identity kept for export.
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/patient/structure.h"

namespace vmatplan {

// What later DICOM export must reference. Non-DICOM inputs get freshly made UIDs.
struct DicomIdentity {
  std::string patient_id;
  std::string patient_name;
  std::string study_instance_uid;
  std::string series_instance_uid;          // the CT series
  std::string frame_of_reference_uid;
  std::string structure_set_sop_instance_uid;  // the RTSTRUCT; empty when there is none
  std::string patient_position = "HFS";     // HFS, FFS, HFP, FFP (0018,5100)
};

struct Patient {
  CtImage ct_hu;
  std::vector<Structure> structures;
  DicomIdentity identity;
  std::vector<std::string> warnings;  // found while loading; reported by `inspect`
  std::string source;                 // the path it was loaded from, or "phantom seed N"
  std::string format;                 // "dicom", "image_folder", "matrad" or "phantom"

  // Exact (case-sensitive) name look-up; nullptr when absent.
  const Structure* find_structure(const std::string& name) const;
  Structure* find_structure(const std::string& name);
  std::vector<std::string> structure_names() const;
};

// SHA-256 (hex) of what the patient is: CT grid and voxels, structure names and masks
// (not the file names or dates). The same images give the same digest.
std::string patient_content_digest(const Patient& patient);

// Fills the empty study, CT series, frame-of-reference and structure-set UIDs with UIDs
// derived from patient_content_digest(), so that a patient without DICOM identity (image
// folder, matRad) gets the same UIDs every time it is loaded and its exported CT, RTSTRUCT,
// RT Plan and RT Dose reference each other across runs.
void assign_content_uids(Patient& patient);

}  // namespace vmatplan
