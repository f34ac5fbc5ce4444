#pragma once
// Private to src/dose: the exact convolution of one control point's piecewise-constant
// bixel fluence with the kernel's Gaussians, sampled on the sample plane, and its
// transpose. P_k = E_y,k F E_x,k^T (docs/dose_model.md), computed with the separable
// matrices' negligible tails (below 1e-9) and zero fluence rows skipped. No LibTorch.
#include <vector>

#include "control_point_trace.h"

namespace vmatplan::detail {

template <class T>
struct PlaneScratch {
  std::vector<T> g;     // [fluence row][plane x] (forward) or [plane y][bixel] (backward)
  std::vector<T> line;  // [plane x]
};

class PlaneConvolution {
 public:
  PlaneConvolution(const FluenceGrid& grid, const SamplePlane& plane, const BeamModel& model);
  int components() const { return static_cast<int>(mats_.size()); }
  int64_t plane_size() const { return plane_.width * plane_.height * components(); }

  // plane[y][x][k] (plane_size() values) of fluence f[row][bixel]; false (plane untouched)
  // when f is zero everywhere.
  template <class T>
  bool forward(const T* f, T* plane, PlaneScratch<T>& scratch) const;
  // grad_f[row][bixel] = the transpose applied to grad_plane[y][x][k] (overwrites grad_f).
  template <class T>
  void backward(const T* grad_plane, T* grad_f, PlaneScratch<T>& scratch) const;

 private:
  struct Component {
    std::vector<double> rows;  // [plane y][fluence row]
    std::vector<double> cols;  // [bixel][plane x]
    std::vector<int> row_lo, row_hi;  // per fluence row: plane y range above the tail
    std::vector<int> col_lo, col_hi;  // per bixel: plane x range above the tail
  };
  FluenceGrid grid_;
  SamplePlane plane_;
  std::vector<Component> mats_;
};

}  // namespace vmatplan::detail
