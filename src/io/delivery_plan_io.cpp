#include "vmatplan/io/delivery_plan_io.h"

#include <filesystem>
#include <fstream>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/io/rtplan_reader.h"

namespace vmatplan {
namespace {

// DICOM Part 10 files carry "DICM" after a 128-byte preamble; bare datasets start with a
// group 0x0008 (or 0x0002) tag.
bool looks_like_dicom(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path, "does not exist");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "is a folder, expected a plan file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open plan file");
  char buf[132] = {};
  in.read(buf, sizeof buf);
  if (in.gcount() == 132 && std::string(buf + 128, 4) == "DICM") return true;
  return in.gcount() >= 2 && (buf[0] == 0x08 || buf[0] == 0x02) && buf[1] == 0x00;
}

}  // namespace

DeliveryPlan load_delivery_plan(const std::string& path) {
  if (looks_like_dicom(path)) return read_rtplan(path);
  const nlohmann::json j = read_json_file(path, "plan file");
  // json::value() throws a type error (naming no file) when "format" is not a string.
  const auto format_it = j.find("format");
  const std::string format =
      format_it != j.end() && format_it->is_string() ? format_it->get<std::string>() : "";
  if (format == "vmatplan-delivery") return delivery_plan_from_json(j, path);
  if (format == "vmatplan-plan") {
    if (!j.contains("extra") || !j["extra"].is_object() || !j["extra"].contains("delivery"))
      throw InputError(path, "plan file has no delivery section (run `vmatplan sequence` first)");
    return delivery_plan_from_json(j["extra"]["delivery"], path);
  }
  throw InputError(path, "neither a DICOM RT Plan nor a vmatplan plan/delivery JSON file");
}

}  // namespace vmatplan
