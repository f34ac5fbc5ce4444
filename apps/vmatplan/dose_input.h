#pragma once
// A dose given on the command line (--dose, --reference), read and checked the same way
// by every subcommand that evaluates one: RT Dose or image, on the patient's frame of
// reference and CT, finite and plausible, and covering the protocol's targets.
#include <string>

#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/io/dose_reader.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan::cli {

// read_dose + check_dose_against_patient (warnings logged) + validate_dose_image; throws
// InputError naming `path`.
DoseImage read_patient_dose(const std::string& path, const Patient& patient,
                            bool allow_other_frame, DoseFileInfo* info = nullptr);

// A dose beside the patient would pass every "at most" goal at 0 Gy: refuses a dose grid
// that misses more than half of a protocol target, warns when it misses part of one.
void check_dose_covers_targets(const DoseImage& dose, const std::string& path,
                               const Patient& patient, const Protocol& protocol,
                               const StructureRoles& roles);

}  // namespace vmatplan::cli
