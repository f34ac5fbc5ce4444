#pragma once
// Reading JSON files (configs, sidecars) with one-line errors that name the file.
#include <string>

#include <nlohmann/json.hpp>

namespace vmatplan {

// The parsed file; InputError "PATH: cannot open WHAT" or "PATH: not valid JSON: ...",
// and "PATH: expected a JSON object" when require_object is set and it is not one.
nlohmann::json read_json_file(const std::string& path, const std::string& what = "file",
                              bool require_object = true);

}  // namespace vmatplan
