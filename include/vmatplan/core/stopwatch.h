#pragma once
// Wall-clock seconds for stage timings (steady clock: immune to system clock changes).
#include <chrono>

namespace vmatplan {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

}  // namespace vmatplan
