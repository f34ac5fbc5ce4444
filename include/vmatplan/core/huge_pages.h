#pragma once
// advise_huge_pages: asks the kernel to back a large, not yet touched block with
// transparent huge pages (2 MiB) when it is first written.
//
//   std::vector<float> v;
//   v.reserve(n);
//   advise_huge_pages(v.data(), n * sizeof(float));
//   v.assign(n, 0.0f);  // one page fault per 2 MiB instead of per 4 KiB
//
// Filling a fresh 10 MB mask or a 43 MB CT with 4 KiB pages costs one page fault per page,
// and on the project's (virtualised) machines those faults cost more than the filling
// itself (perf, 2026-12-07). Advice only: the values are the same with or without it, and
// without THP support (or for blocks under 4 MiB) nothing happens.
#include <cstddef>
#include <vector>

namespace vmatplan {

// Advises the 2 MiB-aligned pages that lie wholly inside [begin, begin + bytes).
void advise_huge_pages(const void* begin, size_t bytes);

// v.reserve(n), the new block advised as huge pages before anything is written to it.
template <class T>
void reserve_advised(std::vector<T>& v, size_t n) {
  v.reserve(n);
  advise_huge_pages(v.data(), v.capacity() * sizeof(T));
}

// `bytes` (at least 1) aligned to `alignment` (a power of two, at most 2 MiB), released with
// std::free; blocks of 4 MiB and more are 2 MiB-aligned and advised as huge pages.
// Throws std::bad_alloc.
void* allocate_huge_page_advised(size_t bytes, size_t alignment);

}  // namespace vmatplan
