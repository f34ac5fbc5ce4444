#include "vmatplan/core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "vmatplan/core/error.h"

namespace vmatplan {

void setup_logging(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw UsageError("unknown log level '" + level +
                     "' (use trace, debug, info, warn, error, critical or off)");
  auto logger = spdlog::stderr_color_mt("vmatplan");
  logger->set_pattern("%^[%l]%$ %v");
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
}

}  // namespace vmatplan
