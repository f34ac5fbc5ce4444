#include "vmatplan/core/config_path.h"

#include <cstdlib>
#include <filesystem>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace fs = std::filesystem;

std::string config_dir() {
  if (const char* env = std::getenv("VMATPLAN_CONFIG_DIR"); env && *env) return env;
  for (const char* c : {VMATPLAN_SOURCE_DIR "/configs", "/usr/local/share/vmatplan/configs",
                        "/usr/share/vmatplan/configs"})
    if (fs::is_directory(c)) return c;
  return VMATPLAN_SOURCE_DIR "/configs";
}

std::string config_path(const std::string& relative) {
  std::string p = config_dir() + "/" + relative;
  if (!fs::exists(p)) throw InputError(p, "config file not found (set VMATPLAN_CONFIG_DIR?)");
  return p;
}

std::string model_dir(const std::string& name) {
  if (const char* env = std::getenv("VMATPLAN_MODELS_DIR"); env && *env) return std::string(env) + "/" + name;
  for (const std::string c : {VMATPLAN_SOURCE_DIR "/models/", "/usr/local/share/vmatplan/models/",
                              "/usr/share/vmatplan/models/"})
    if (fs::is_directory(c + name)) return c + name;
  return VMATPLAN_SOURCE_DIR "/models/" + name;
}

}  // namespace vmatplan
