#include "vmatplan/core/threads.h"

#include <atomic>
#include <thread>

namespace vmatplan {
namespace {
std::atomic<int> g_threads{1};
}

void set_thread_count(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = n;
}

int thread_count() { return g_threads; }

}  // namespace vmatplan
