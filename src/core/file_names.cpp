#include "vmatplan/core/file_names.h"

#include <cctype>

namespace vmatplan {

std::string safe_file_stem(const std::string& name) {
  std::string s;
  for (unsigned char c : name)
    s += (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '+') ? char(c) : '_';
  if (s.empty() || s == "." || s == "..") s = "structure";
  return s;
}

}  // namespace vmatplan
