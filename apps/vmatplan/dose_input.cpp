#include "dose_input.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <vector>

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/dose_checks.h"

namespace vmatplan::cli {

DoseImage read_patient_dose(const std::string& path, const Patient& patient,
                            bool allow_other_frame, DoseFileInfo* info_out) {
  DoseFileInfo info;
  std::vector<std::string> warnings;
  DoseImage dose = read_dose(path, &info);
  check_dose_against_patient(dose, info, patient, path, &warnings, allow_other_frame);
  validate_dose_image(dose, path);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (info_out) *info_out = info;
  return dose;
}

void check_dose_covers_targets(const DoseImage& dose, const std::string& path,
                               const Patient& patient, const Protocol& protocol,
                               const StructureRoles& roles) {
  for (const auto& t : protocol.prescription.targets) {
    const Structure& s = roles.resolve(patient, t.role);
    const double pct = percent_outside_dose_grid(s, dose.grid);
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f %% of target '%s' lies outside the dose grid", pct, s.name.c_str());
    if (pct > 50) throw InputError(path, std::string(buf) + " (a dose for another patient or frame of reference?)");
    if (pct > 0) spdlog::warn("{}: {}", path, buf);
  }
}

}  // namespace vmatplan::cli
