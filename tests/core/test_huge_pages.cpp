// advise_huge_pages and the Image3D constructor that uses it: the advice never changes
// values, and on a Linux kernel with transparent huge pages the advised range is marked.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vmatplan/core/huge_pages.h"
#include "vmatplan/core/image3d.h"

using namespace vmatplan;

namespace {

// "[always] madvise never" style setting of this kernel; empty without THP support.
std::string thp_setting() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  return line;
}

// The VmFlags of the /proc/self/smaps mapping that holds address a; empty if not found.
std::string vm_flags_at(const void* a) {
  std::ifstream in("/proc/self/smaps");
  const uintptr_t x = reinterpret_cast<uintptr_t>(a);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= x && x < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

}  // namespace

TEST_CASE("Image3D: a large image is filled with its value on the whole grid", "[core][huge_pages]") {
  ImageGrid g;
  g.size = {210, 160, 40};  // 1.3 M voxels: 5.4 MB of floats, above the 4 MiB threshold
  const Image3D<float> ct(g, -1000.0f);
  REQUIRE(ct.voxels.size() == static_cast<size_t>(g.voxel_count()));
  CHECK(std::all_of(ct.voxels.begin(), ct.voxels.end(), [](float v) { return v == -1000.0f; }));
  const Mask m(g, 1);
  REQUIRE(m.voxels.size() == static_cast<size_t>(g.voxel_count()));
  CHECK(std::count(m.voxels.begin(), m.voxels.end(), uint8_t{1}) == g.voxel_count());
  g.size = {0, 3, 3};
  CHECK(Image3D<float>(g, 2.0f).empty());
}

TEST_CASE("advise_huge_pages: values are kept; the advised range is marked where THP exists",
          "[core][huge_pages]") {
  advise_huge_pages(nullptr, 0);  // nothing to advise
  std::vector<float> small(100, 3.0f);
  advise_huge_pages(small.data(), small.size() * sizeof(float));
  CHECK(std::all_of(small.begin(), small.end(), [](float v) { return v == 3.0f; }));

  const size_t n = size_t{16} << 20;  // 64 MiB of floats
  std::vector<float> big;
  big.reserve(n);
  advise_huge_pages(big.data(), n * sizeof(float));
  big.assign(n, 0.5f);
  big[n / 2] = 7.0f;
  CHECK(big[n / 2] == 7.0f);
  CHECK(std::count(big.begin(), big.end(), 0.5f) == static_cast<long>(n - 1));
  const std::string thp = thp_setting();
  if (thp.empty() || thp.find("[never]") != std::string::npos) return;  // no THP to advise
  // "hg": the mapping was advised MADV_HUGEPAGE (proc(5)); the middle of a 64 MiB block
  // lies on an advised 2 MiB page.
  const std::string flags = vm_flags_at(big.data() + n / 2);
  INFO(flags);
  CHECK(flags.find(" hg") != std::string::npos);
}

TEST_CASE("allocate_huge_page_advised and reserve_advised: aligned, writable, large blocks advised",
          "[core][huge_pages]") {
  void* small = allocate_huge_page_advised(1000, 64);
  CHECK(reinterpret_cast<uintptr_t>(small) % 64 == 0);
  std::fill_n(static_cast<char*>(small), 1000, 'x');
  CHECK(static_cast<char*>(small)[999] == 'x');
  std::free(small);
  std::free(allocate_huge_page_advised(0, 64));  // at least one byte, never null

  const size_t bytes = size_t{40} << 20;
  char* big = static_cast<char*>(allocate_huge_page_advised(bytes, 64));
  CHECK(reinterpret_cast<uintptr_t>(big) % (size_t{2} << 20) == 0);
  std::fill_n(big, bytes, char{5});
  CHECK(std::count(big, big + bytes, char{5}) == static_cast<long>(bytes));
  const std::string thp = thp_setting();
  const bool advisable = !thp.empty() && thp.find("[never]") == std::string::npos;
  if (advisable) CHECK(vm_flags_at(big + bytes / 2).find(" hg") != std::string::npos);
  std::free(big);

  std::vector<double> v{1.0, 2.0};
  reserve_advised(v, size_t{8} << 20);  // 64 MiB
  CHECK(v.capacity() >= (size_t{8} << 20));
  CHECK(v == std::vector<double>{1.0, 2.0});
  v.resize(size_t{8} << 20, 3.0);
  CHECK(v.back() == 3.0);
  if (advisable) CHECK(vm_flags_at(&v[v.size() / 2]).find(" hg") != std::string::npos);
}
