#pragma once
// Image3D<T>: voxels on an ImageGrid, x fastest (index i), then y (j), then z (k).
// CtImage holds Hounsfield units; Mask holds 0/1 per voxel on the same grid.
#include <cstdint>
#include <vector>

#include "vmatplan/core/huge_pages.h"
#include "vmatplan/core/image_grid.h"

namespace vmatplan {

template <class T>
struct Image3D {
  ImageGrid grid;
  std::vector<T> voxels;

  Image3D() = default;
  // The block is advised as huge pages before it is filled: a CT's or mask's first touch
  // then costs far fewer page faults (core/huge_pages.h).
  explicit Image3D(const ImageGrid& g, T fill = T{}) : grid(g) {
    const size_t n = static_cast<size_t>(g.voxel_count());
    reserve_advised(voxels, n);
    voxels.assign(n, fill);
  }

  T& at(int64_t i, int64_t j, int64_t k) { return voxels[grid.linear_index(i, j, k)]; }
  const T& at(int64_t i, int64_t j, int64_t k) const {
    return voxels[grid.linear_index(i, j, k)];
  }
  bool empty() const { return voxels.empty(); }
};

using CtImage = Image3D<float>;   // Hounsfield units
using Mask = Image3D<uint8_t>;    // 1 inside, 0 outside

}  // namespace vmatplan
