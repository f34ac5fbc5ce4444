// for_each_set_voxel against a plain loop over the mask.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "vmatplan/core/mask_scan.h"

using namespace vmatplan;

TEST_CASE("for_each_set_voxel: the non-zero voxels in ascending order, any length", "[core]") {
  std::mt19937 rng(7);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{1000}, size_t{4099}}) {
    for (double fill : {0.0, 0.003, 0.5, 1.0}) {
      std::vector<uint8_t> mask(n, 0);
      std::bernoulli_distribution on(fill);
      for (auto& m : mask) m = on(rng) ? static_cast<uint8_t>(1 + rng() % 255) : 0;
      std::vector<size_t> expected, got;
      for (size_t v = 0; v < n; ++v)
        if (mask[v]) expected.push_back(v);
      for_each_set_voxel(mask, [&](size_t v) { got.push_back(v); });
      INFO("n " << n << " fill " << fill);
      CHECK(got == expected);
    }
  }
}
