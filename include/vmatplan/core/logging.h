#pragma once
// Logging set-up: diagnostics go to stderr through spdlog; results go to stdout or files.
#include <string>

namespace vmatplan {

// level: trace, debug, info, warn, error, critical, off. Throws UsageError otherwise.
void setup_logging(const std::string& level);

}  // namespace vmatplan
