#pragma once
// ImageGrid: the geometry of a 3-D voxel grid in patient coordinates (DICOM LPS, mm).
//
//   ImageGrid g;                       // size, spacing_mm, origin_mm, direction
//   Vec3 p = g.index_to_physical({i, j, k});
//   Vec3 c = g.physical_to_index(p);   // continuous index, inverse of the above
//
// Vocabulary (as in ITK and DICOM): the origin is the centre of voxel (0,0,0); column c of
// the direction matrix is the unit vector, in LPS, along which index c grows.
#include <array>
#include <cstdint>
#include <string>

#include "vmatplan/core/vec3.h"

namespace vmatplan {

using Size3 = std::array<int64_t, 3>;

struct ImageGrid {
  Size3 size{0, 0, 0};
  Vec3 spacing_mm{1.0, 1.0, 1.0};
  Vec3 origin_mm{0.0, 0.0, 0.0};
  // Row-major 3x3: direction[r * 3 + c] is the LPS component r of index axis c.
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

  int64_t voxel_count() const { return size[0] * size[1] * size[2]; }
  double voxel_volume_mm3() const { return spacing_mm[0] * spacing_mm[1] * spacing_mm[2]; }
  int64_t linear_index(int64_t i, int64_t j, int64_t k) const {
    return i + size[0] * (j + size[1] * k);
  }
  bool contains_index(int64_t i, int64_t j, int64_t k) const {
    return i >= 0 && j >= 0 && k >= 0 && i < size[0] && j < size[1] && k < size[2];
  }
  Vec3 axis(int c) const { return {direction[c], direction[3 + c], direction[6 + c]}; }

  Vec3 index_to_physical(const Vec3& index) const;
  Vec3 physical_to_index(const Vec3& point_mm) const;

  // True when size matches and spacing, origin and direction agree within tol (mm, or
  // unitless for the direction).
  bool same_geometry(const ImageGrid& other, double tol = 1e-4) const;

  // "HFS"-style description is not a grid property; this names the axis directions, e.g.
  // "LPS" for identity, "RPS" for a feet-first-supine style x flip.
  std::string orientation_code() const;
};

}  // namespace vmatplan
