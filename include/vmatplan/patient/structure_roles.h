#pragma once
// StructureRoles: protocol roles (e.g. "rectum") mapped to the names patients use for
// them ("Rectum", "RECTUM", "Anorectum"). Loaded from configs/structure_roles.json.
//
//   auto roles = StructureRoles::load_default();
//   const Structure& r = roles.resolve(patient, "rectum");  // throws, listing names
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vmatplan/patient/patient.h"

namespace vmatplan {

class StructureRoles {
 public:
  // Throws InputError naming the file when it is missing or malformed.
  static StructureRoles load(const std::string& path);
  // configs/structure_roles.json of the source tree or install (see config_path()).
  static StructureRoles load_default();

  void add(const std::string& role, const std::vector<std::string>& synonyms);
  bool has_role(const std::string& role) const { return synonyms_.count(role) > 0; }
  std::vector<std::string> roles() const;

  // The patient's structure for a role, or nullptr. A structure whose name is the role
  // itself also matches. Exact synonyms win over loose matches.
  const Structure* find(const Patient& p, const std::string& role) const;
  // As find(), but throws ProcessingError that lists the patient's structures.
  const Structure& resolve(const Patient& p, const std::string& role) const;
  // The role a structure name plays, or "" when none.
  std::string role_of(const std::string& structure_name) const;

  // The display colour of a role ("_colors" in the config); a structure without a role
  // gets a fixed palette entry picked by `index`.
  std::array<uint8_t, 3> default_color(const std::string& role, size_t index) const;
  // Colours to draw the patient's structures in: each structure's own colour, except where
  // two structures share one (a patient without a colour table: NIfTI masks, matRad),
  // then every structure gets its role's default colour.
  std::vector<std::array<uint8_t, 3>> display_colors(const Patient& p) const;

  // Canonical form used for matching: lower case, without spaces, '_' and '-'.
  static std::string normalize(const std::string& name);

 private:
  std::map<std::string, std::vector<std::string>> synonyms_;
  std::map<std::string, std::array<uint8_t, 3>> colors_;
};

}  // namespace vmatplan
