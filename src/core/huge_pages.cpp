#include "vmatplan/core/huge_pages.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vmatplan {

void advise_huge_pages(const void* begin, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (begin == nullptr || bytes < 2 * kHuge) return;
  const uintptr_t first = (reinterpret_cast<uintptr_t>(begin) + kHuge - 1) / kHuge * kHuge;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + bytes) / kHuge * kHuge;
  // A failure (no THP in this kernel) leaves ordinary pages: nothing to report.
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)begin;
  (void)bytes;
#endif
}

void* allocate_huge_page_advised(size_t bytes, size_t alignment) {
  constexpr size_t kHuge = size_t{2} << 20;
  void* p = nullptr;
  if (bytes >= 2 * kHuge) {
    const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    if (posix_memalign(&p, kHuge, rounded) != 0) throw std::bad_alloc();
    advise_huge_pages(p, rounded);
    return p;
  }
  if (posix_memalign(&p, std::max(alignment, sizeof(void*)), std::max<size_t>(bytes, 1)) != 0)
    throw std::bad_alloc();
  return p;
}

}  // namespace vmatplan
