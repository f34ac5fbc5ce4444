#pragma once
// Private to src/geometry: typed field access for the plan JSON files, reporting
// "SOURCE: field a.b: problem" on one line, and the DICOM spelling of rotation directions.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/arc.h"

namespace vmatplan::json_fields {

using nlohmann::json;

// DICOM Gantry Rotation Direction (300A,011F) spelling.
inline std::string direction_name(RotationDirection d) {
  switch (d) {
    case RotationDirection::kClockwise: return "CW";
    case RotationDirection::kCounterClockwise: return "CC";
    default: return "NONE";
  }
}

struct Reader {
  std::string source;  // the file, for messages
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw InputError(source, "field " + field + ": " + problem);
  }
  const json& at(const json& j, const std::string& key, const std::string& ctx) const {
    if (!j.is_object() || !j.contains(key)) fail(ctx + key, "missing");
    return j.at(key);
  }
  double number(const json& j, const std::string& key, const std::string& ctx) const {
    const json& v = at(j, key, ctx);
    if (!v.is_number()) fail(ctx + key, "expected a number");
    return v.get<double>();
  }
  int integer(const json& j, const std::string& key, const std::string& ctx) const {
    const json& v = at(j, key, ctx);
    if (!v.is_number_integer()) fail(ctx + key, "expected an integer");
    return v.get<int>();
  }
  std::string string(const json& j, const std::string& key, const std::string& ctx) const {
    const json& v = at(j, key, ctx);
    if (!v.is_string()) fail(ctx + key, "expected a string");
    return v.get<std::string>();
  }
  std::vector<double> numbers(const json& j, const std::string& key, const std::string& ctx) const {
    const json& v = at(j, key, ctx);
    if (!v.is_array()) fail(ctx + key, "expected an array of numbers");
    std::vector<double> out;
    out.reserve(v.size());
    for (const auto& x : v) {
      if (!x.is_number()) fail(ctx + key, "expected an array of numbers");
      out.push_back(x.get<double>());
    }
    return out;
  }
  RotationDirection direction(const json& j, const std::string& key, const std::string& ctx) const {
    const std::string d = string(j, key, ctx);
    if (d == "CW") return RotationDirection::kClockwise;
    if (d == "CC") return RotationDirection::kCounterClockwise;
    if (d == "NONE") return RotationDirection::kNone;
    fail(ctx + key, "expected CW, CC or NONE, found '" + d + "'");
  }
};

}  // namespace vmatplan::json_fields
