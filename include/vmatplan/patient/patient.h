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

  // Exact (case-sensitive) name look-up; nullptr when absent.
  const Structure* find_structure(const std::string& name) const;
  Structure* find_structure(const std::string& name);
  std::vector<std::string> structure_names() const;
};

}  // namespace vmatplan
