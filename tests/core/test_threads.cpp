// parallel_for and parallel_for_dynamic: every index exactly once, at any thread count.
#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "vmatplan/core/threads.h"

using namespace vmatplan;

namespace {
// Sets the thread count for a scope (tests run at 1 otherwise).
struct ThreadCountScope {
  int saved = thread_count();
  explicit ThreadCountScope(int n) { set_thread_count(n); }
  ~ThreadCountScope() { set_thread_count(saved); }
};
}  // namespace

TEST_CASE("parallel_for_dynamic visits every index once in chunks of the grain", "[core]") {
  for (int threads : {1, 2, 3}) {
    ThreadCountScope scope(threads);
    for (long n : {0L, 1L, 7L, 64L, 1001L}) {
      for (long grain : {1L, 8L, 5000L}) {
        std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
        std::atomic<int> oversized{0};
        parallel_for_dynamic(n, grain, [&](long b, long e) {
          if (e - b > grain || b >= e) ++oversized;
          for (long i = b; i < e; ++i) ++seen[static_cast<size_t>(i)];
        });
        INFO("threads " << threads << ", n " << n << ", grain " << grain);
        CHECK(oversized == 0);
        for (long i = 0; i < n; ++i) CHECK(seen[static_cast<size_t>(i)] == 1);
      }
    }
  }
}

TEST_CASE("parallel_for_dynamic runs on the calling thread and at most thread_count() threads", "[core]") {
  ThreadCountScope scope(2);
  std::atomic<int> running{0}, most{0};
  std::atomic<bool> caller_worked{false};
  const auto caller = std::this_thread::get_id();
  parallel_for_dynamic(200, 1, [&](long, long) {
    const int now = ++running;
    for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
    if (std::this_thread::get_id() == caller) caller_worked = true;
    std::this_thread::yield();
    --running;
  });
  CHECK(most <= 2);
  CHECK(caller_worked);
}
