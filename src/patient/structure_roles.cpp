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
  if (j.contains("_colors")) {
    const nlohmann::json& c = j["_colors"];
    if (!c.is_object()) throw InputError(path, "_colors must map roles to [r, g, b]");
    for (auto it = c.begin(); it != c.end(); ++it) {
      if (!it.key().empty() && it.key()[0] == '_') continue;
      const auto& v = it.value();
      if (!v.is_array() || v.size() != 3)
        throw InputError(path, "_colors." + it.key() + " must be [r, g, b]");
      std::array<uint8_t, 3> rgb{};
      for (int a = 0; a < 3; ++a) {
        if (!v[a].is_number_integer() || v[a].get<int>() < 0 || v[a].get<int>() > 255)
          throw InputError(path, "_colors." + it.key() + " values must be integers 0-255");
        rgb[a] = static_cast<uint8_t>(v[a].get<int>());
      }
      roles.colors_[it.key()] = rgb;
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.key().empty() && it.key()[0] == '_') continue;  // comments, colours
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

std::array<uint8_t, 3> StructureRoles::default_color(const std::string& role, size_t index) const {
  if (auto it = colors_.find(role); it != colors_.end()) return it->second;
  static const std::array<uint8_t, 3> palette[] = {{31, 119, 180}, {214, 39, 40},  {44, 160, 44},
                                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194},
                                                   {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
                                                   {255, 127, 14}};
  return palette[index % (sizeof palette / sizeof palette[0])];
}

std::vector<std::array<uint8_t, 3>> StructureRoles::display_colors(const Patient& p) const {
  std::vector<std::array<uint8_t, 3>> out;
  bool shared = false;
  for (const auto& s : p.structures) {
    for (const auto& c : out) shared = shared || c == s.color_rgb;
    out.push_back(s.color_rgb);
  }
  if (shared)
    for (size_t i = 0; i < p.structures.size(); ++i)
      out[i] = default_color(role_of(p.structures[i].name), i);
  return out;
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
