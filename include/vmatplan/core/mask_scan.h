#pragma once
// for_each_set_voxel: the linear indices of a mask's non-zero voxels, in ascending order,
// reading the mask 8 bytes at a time so that its empty stretches cost little.
//
//   for_each_set_voxel(ptv.mask, [&](size_t v) { doses.push_back(dose.voxels[v]); });
//
// A structure fills a few percent of a CT grid (a 10 M-voxel pelvis CT holds the prostate
// in about 0.1 %): a per-voxel loop spends nearly all its time on zeros, and the checks and
// DVHs of a plan scan every structure's whole mask.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vmatplan {

template <class F>
void for_each_set_voxel(const std::vector<uint8_t>& mask, F&& f) {
  const size_t n = mask.size();
  const uint8_t* m = mask.data();
  size_t v = 0;
  for (; v + 8 <= n; v += 8) {
    uint64_t word;
    std::memcpy(&word, m + v, 8);
    if (word == 0) continue;
    for (size_t i = v; i < v + 8; ++i)
      if (m[i]) f(i);
  }
  for (; v < n; ++v)
    if (m[v]) f(v);
}

}  // namespace vmatplan
