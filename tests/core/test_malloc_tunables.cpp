// with_malloc_tunables: the GLIBC_TUNABLES value the launcher passes to the program.
#include <catch2/catch.hpp>

#include "vmatplan/core/malloc_tunables.h"

using vmatplan::with_malloc_tunables;

TEST_CASE("with_malloc_tunables adds hugetlb=1 and keeps the user's settings", "[core]") {
  CHECK(with_malloc_tunables(nullptr) == "glibc.malloc.hugetlb=1");
  CHECK(with_malloc_tunables("") == "glibc.malloc.hugetlb=1");
  CHECK(with_malloc_tunables("glibc.malloc.arena_max=2") == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  // The user's own value of the same tunable wins, wherever it stands.
  CHECK(with_malloc_tunables("glibc.malloc.hugetlb=0") == "glibc.malloc.hugetlb=0");
  CHECK(with_malloc_tunables("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2") ==
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2");
  // A name that only starts like it is another tunable.
  CHECK(with_malloc_tunables("glibc.malloc.hugetlbx=1") == "glibc.malloc.hugetlbx=1:glibc.malloc.hugetlb=1");
}
