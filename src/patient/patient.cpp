#include "vmatplan/patient/patient.h"

#include "vmatplan/core/sha256.h"
#include "vmatplan/core/uid.h"

namespace vmatplan {

const Structure* Patient::find_structure(const std::string& name) const {
  for (const auto& s : structures)
    if (s.name == name) return &s;
  return nullptr;
}

Structure* Patient::find_structure(const std::string& name) {
  for (auto& s : structures)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> Patient::structure_names() const {
  std::vector<std::string> names;
  names.reserve(structures.size());
  for (const auto& s : structures) names.push_back(s.name);
  return names;
}

std::string patient_content_digest(const Patient& p) {
  Sha256 h;
  auto add_grid = [&h](const ImageGrid& g) {
    h.update(g.size.data(), sizeof g.size);
    h.update(g.spacing_mm.data(), sizeof g.spacing_mm);
    h.update(g.origin_mm.data(), sizeof g.origin_mm);
    h.update(g.direction.data(), sizeof g.direction);
  };
  add_grid(p.ct_hu.grid);
  h.update(p.ct_hu.voxels.data(), p.ct_hu.voxels.size() * sizeof(float));
  for (const auto& s : p.structures) {
    h.update(s.name.data(), s.name.size() + 1);  // with the terminating NUL as separator
    add_grid(s.mask.grid);
    h.update(s.mask.voxels.data(), s.mask.voxels.size());
  }
  return h.hex_digest();
}

void assign_content_uids(Patient& p) {
  DicomIdentity& id = p.identity;
  const bool any_missing = id.study_instance_uid.empty() || id.series_instance_uid.empty() ||
                           id.frame_of_reference_uid.empty() ||
                           id.structure_set_sop_instance_uid.empty();
  if (!any_missing) return;
  const std::string digest = patient_content_digest(p);
  auto fill = [&digest](std::string& uid, const char* what) {
    if (uid.empty()) uid = make_uid_from_content(std::string("vmatplan|") + what + "|" + digest);
  };
  fill(id.study_instance_uid, "study");
  fill(id.series_instance_uid, "ct-series");
  fill(id.frame_of_reference_uid, "frame-of-reference");
  fill(id.structure_set_sop_instance_uid, "rtstruct");
}

}  // namespace vmatplan
