#pragma once
// Where the shipped configs live: $VMATPLAN_CONFIG_DIR, else the installed share folder,
// else the source tree's configs/ (for a build tree). Shipped model folders (models/NAME)
// are found the same way: $VMATPLAN_MODELS_DIR, the source tree's models/, the share folder.
#include <string>

namespace vmatplan {

std::string config_dir();
// config_dir() + "/" + relative; throws InputError when the file does not exist.
std::string config_path(const std::string& relative);

// The folder of shipped model NAME (e.g. "fmd"): the first of $VMATPLAN_MODELS_DIR/NAME,
// the source tree's models/NAME and the installed share folders that exists, else the
// source tree's (so that the caller's error names where a model was expected).
std::string model_dir(const std::string& name);

}  // namespace vmatplan
