#pragma once
// Benchmark helpers: wall time and peak memory of a child process (wait4 rusage), and a
// plain table printer. Benchmarks print; they never assert.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vmatplan/core/malloc_tunables.h"

namespace vmatplan::bench {

// The in-process benchmarks measure with the malloc settings `vmatplan` runs with
// (core/malloc_tunables.h; glibc reads them only when a process starts): called first in
// main, this executes the benchmark again with them added to GLIBC_TUNABLES, unless they
// are there already. A value set for the same tunable wins (GLIBC_TUNABLES=
// glibc.malloc.hugetlb=0 measures with glibc's default). Where the executable cannot be
// started again, the benchmark goes on with the environment it has.
inline void run_with_malloc_tunables(char** argv) {
  const char* now = std::getenv("GLIBC_TUNABLES");
  const std::string wanted = with_malloc_tunables(now);
  if (now && wanted == now) return;
  if (setenv("GLIBC_TUNABLES", wanted.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
}

// The median of v (the mean of the middle two for an even count); NaN when v is empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

struct ProcessRun {
  double wall_s = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

// Runs `sh -c command` with stdout/stderr discarded.
inline ProcessRun run_process(const std::string& command) {
  ProcessRun r;
  std::fflush(nullptr);  // else the child would flush our buffered output a second time
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_rss_mb = usage.ru_maxrss / 1024.0;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Minimum and median of repeated runs (after one warm-up).
struct Summary {
  double min_s = 0, median_s = 0, peak_rss_mb = 0;
  int failures = 0;
};

inline Summary repeat(const std::string& command, int runs) {
  run_process(command);  // warm-up: file cache
  std::vector<double> t;
  Summary s;
  for (int n = 0; n < runs; ++n) {
    ProcessRun r = run_process(command);
    t.push_back(r.wall_s);
    s.peak_rss_mb = std::max(s.peak_rss_mb, r.peak_rss_mb);
    s.failures += r.exit_code != 0;
  }
  std::sort(t.begin(), t.end());
  s.min_s = t.front();
  s.median_s = t[t.size() / 2];
  return s;
}

inline void print_row(const std::string& name, const Summary& s) {
  std::printf("| %-44s | %8.3f | %8.3f | %9.1f | %s\n", name.c_str(), s.min_s, s.median_s,
              s.peak_rss_mb, s.failures ? "FAILED" : "ok");
}

inline void print_header() {
  std::printf("| %-44s | %8s | %8s | %9s |\n", "what", "min s", "median s", "peak MB");
  std::printf("|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(11, '-').c_str());
}

}  // namespace vmatplan::bench
