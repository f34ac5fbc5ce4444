#include "vmatplan/core/json_file.h"

#include <fstream>

#include "vmatplan/core/error.h"

namespace vmatplan {

nlohmann::json read_json_file(const std::string& path, const std::string& what,
                              bool require_object) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open " + what);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's messages are one line: "[json.exception.parse_error.101] parse error at..."
    throw InputError(path, std::string("not valid JSON: ") + e.what());
  }
  if (require_object && !j.is_object()) throw InputError(path, "expected a JSON object");
  return j;
}

}  // namespace vmatplan
