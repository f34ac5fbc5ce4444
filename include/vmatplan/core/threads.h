#pragma once
// The number of worker threads the library may use (CLI --threads). Default: 1, so that
// tests and CI are deterministic and single-threaded unless asked otherwise.
namespace vmatplan {

void set_thread_count(int n);  // n <= 0 means all hardware threads
int thread_count();

// Runs body(begin, end) over [0, n) split into thread_count() contiguous chunks.
template <class Body>
void parallel_for(long n, Body body);

// Runs body(begin, end) over [0, n) in chunks of `grain` indices that the workers
// (thread_count() of them, the calling thread among them) take in turn as they finish: for
// work whose cost per index varies, or cores that are not equally fast (a shared VM), where
// parallel_for's fixed halves leave one core waiting for the other. Every index is in
// exactly one call; when calls write disjoint outputs the result does not depend on the
// schedule.
template <class Body>
void parallel_for_dynamic(long n, long grain, Body body);

}  // namespace vmatplan

#include <algorithm>
#include <atomic>
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

template <class Body>
void parallel_for_dynamic(long n, long grain, Body body) {
  grain = std::max(1L, grain);
  const long chunks = (n + grain - 1) / grain;
  const int t = static_cast<int>(std::max(1L, std::min<long>(thread_count(), chunks)));
  std::atomic<long> next{0};
  auto work = [&] {
    for (long b; (b = next.fetch_add(grain)) < n;) body(b, std::min(n, b + grain));
  };
  std::vector<std::thread> workers;
  for (int i = 1; i < t; ++i) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();
}
}  // namespace vmatplan
