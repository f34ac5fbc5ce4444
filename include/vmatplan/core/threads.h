#pragma once
// The number of worker threads the library may use (CLI --threads). Default: 1, so that
// tests and CI are deterministic and single-threaded unless asked otherwise.
namespace vmatplan {

void set_thread_count(int n);  // n <= 0 means all hardware threads
int thread_count();

// Runs body(begin, end) over [0, n) split into thread_count() contiguous chunks.
template <class Body>
void parallel_for(long n, Body body);

}  // namespace vmatplan

#include <algorithm>
#include <thread>
#include <vector>

namespace vmatplan {
template <class Body>
void parallel_for(long n, Body body) {
  const int t = thread_count();
  if (t <= 1 || n < 2) {
    body(0L, n);
    return;
  }
  std::vector<std::thread> workers;
  const long chunk = (n + t - 1) / t;
  for (long b = 0; b < n; b += chunk) workers.emplace_back(body, b, std::min(n, b + chunk));
  for (auto& w : workers) w.join();
}
}  // namespace vmatplan
