#include "vmatplan/patient/structure_roles.h"

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"

namespace vmatplan {

std::string StructureRoles::normalize(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c == ' ' || c == '_' || c == '-') continue;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

StructureRoles StructureRoles::load(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "structure-role file");
  StructureRoles roles;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.key().empty() && it.key()[0] == '_') continue;  // comments
    if (!it.value().is_array())
      throw InputError(path, "role '" + it.key() + "' must map to an array of names");
    roles.add(it.key(), it.value().get<std::vector<std::string>>());
  }
  return roles;
}

StructureRoles StructureRoles::load_default() {
  return load(config_path("structure_roles.json"));
}

void StructureRoles::add(const std::string& role, const std::vector<std::string>& synonyms) {
  auto& list = synonyms_[role];
  list.insert(list.end(), synonyms.begin(), synonyms.end());
}

std::vector<std::string> StructureRoles::roles() const {
  std::vector<std::string> r;
  for (const auto& kv : synonyms_) r.push_back(kv.first);
  return r;
}

const Structure* StructureRoles::find(const Patient& p, const std::string& role) const {
  std::vector<std::string> names{role};
  if (auto it = synonyms_.find(role); it != synonyms_.end())
    names.insert(names.end(), it->second.begin(), it->second.end());
  // Pass 1: exact spelling, in the order the config lists synonyms.
  for (const auto& n : names)
    if (const Structure* s = p.find_structure(n)) return s;
  // Pass 2: normalized spelling (case, spaces, '_' and '-' ignored).
  for (const auto& n : names) {
    const std::string key = normalize(n);
    for (const auto& s : p.structures)
      if (normalize(s.name) == key) return &s;
  }
  return nullptr;
}

const Structure& StructureRoles::resolve(const Patient& p, const std::string& role) const {
  if (const Structure* s = find(p, role)) return *s;
  std::string list;
  for (const auto& n : p.structure_names()) list += (list.empty() ? "" : ", ") + n;
  throw ProcessingError("no structure for role '" + role + "' in patient (" + p.source +
                        "); structures present: " + (list.empty() ? "none" : list));
}

std::string StructureRoles::role_of(const std::string& structure_name) const {
  const std::string key = normalize(structure_name);
  for (const auto& kv : synonyms_) {
    if (normalize(kv.first) == key) return kv.first;
    for (const auto& n : kv.second)
      if (normalize(n) == key) return kv.first;
  }
  return "";
}

}  // namespace vmatplan
