#include "vmatplan/patient/patient.h"

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

}  // namespace vmatplan
