#pragma once
// The glibc malloc settings the vmatplan program runs with, passed in GLIBC_TUNABLES (glibc
// reads them once, when the process starts: the launcher, apps/launcher, sets them and
// executes the program).
//
// glibc.malloc.hugetlb=1: malloc advises transparent huge pages (madvise MADV_HUGEPAGE)
// for the memory it takes from the kernel. A plan's process writes about 1 GB of fresh
// memory; on the project's virtual machines (THP "madvise", a first write to a 4 KiB page
// about 15 us) a `generate` took 45-56 k page faults with glibc's default and 13-16 k with
// this, and 0.1-0.3 s less (docs/dose_model.md). glibc before 2.35 ignores the name; the
// values computed are the same either way.
//
//   setenv("GLIBC_TUNABLES", with_malloc_tunables(getenv("GLIBC_TUNABLES")).c_str(), 1);
#include <string>

namespace vmatplan {

inline constexpr const char* kMallocTunableName = "glibc.malloc.hugetlb";
inline constexpr const char* kMallocTunableValue = "1";

// `existing` (GLIBC_TUNABLES's value, or null) with glibc.malloc.hugetlb=1 appended, unless
// it already sets that tunable: the user's own setting wins.
inline std::string with_malloc_tunables(const char* existing) {
  const std::string name = kMallocTunableName;
  std::string value = existing ? existing : "";
  // Tunables are name=value items separated by ':'.
  for (size_t start = 0; start < value.size();) {
    if (value.compare(start, name.size() + 1, name + "=") == 0) return value;
    const size_t colon = value.find(':', start);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return value + (value.empty() ? "" : ":") + name + "=" + kMallocTunableValue;
}

}  // namespace vmatplan
