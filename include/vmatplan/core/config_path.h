#pragma once
// Where the shipped configs live: $VMATPLAN_CONFIG_DIR, else the installed share folder,
// else the source tree's configs/ (for a build tree).
#include <string>

namespace vmatplan {

std::string config_dir();
// config_dir() + "/" + relative; throws InputError when the file does not exist.
std::string config_path(const std::string& relative);

}  // namespace vmatplan
