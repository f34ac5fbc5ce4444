#pragma once
// Private to src/dose: the dose of one source group's control points added into the compute
// voxels, dose[v] += (SAD/z)^2 sum_m sum_k w_k(depth) P_mk(u_m, w_m), with the depth weights
// once per voxel and the bilinear plane samples per member (calculate_dose's gather). The
// scalar loop, and the same operations 8 voxels at a time with AVX2 where the CPU has it
// (checked at run time; the binary stays plain x86-64): no FMA contraction and the same
// order of operations, so both give the same floats.
#include <cstdint>

#include "source_group_trace.h"

namespace vmatplan::detail {

// The members' sample planes: values[m * size + (y * width + x) * K + k].
struct GroupPlanes {
  const float* values = nullptr;
  int64_t width = 0, size = 0;
};

template <int K>
int64_t add_group_dose_scalar(const SourceGroupTrace& trace, const DepthWeightTable& table,
                              const GroupPlanes& planes, float* dose, int64_t begin, int64_t end) {
  const int64_t row = planes.width * K;
  return trace.for_each_voxel_in(begin, end, [&](int64_t v, float inverse_square, float depth,
                                                 const float* u, const float* w, unsigned mask) {
    float wt[K];
    table.at<K>(depth, wt);
    float sum = 0;
    for (int m = 0; mask; ++m, mask >>= 1) {
      if (!(mask & 1u)) continue;
      const int ix = static_cast<int>(u[m]), iy = static_cast<int>(w[m]);
      const float fx = u[m] - ix, fy = w[m] - iy;
      const float* p00 = planes.values + m * planes.size + iy * row + ix * K;
      const float* p10 = p00 + row;
      for (int k = 0; k < K; ++k) {
        const float top = p00[k] + fx * (p00[k + K] - p00[k]);
        const float bottom = p10[k] + fx * (p10[k + K] - p10[k]);
        sum += wt[k] * (top + fy * (bottom - top));
      }
    }
    dose[v] += inverse_square * sum;
  });
}

using GroupDoseRange = int64_t (*)(const SourceGroupTrace&, const DepthWeightTable&,
                                   const GroupPlanes&, float*, int64_t, int64_t);

struct GroupGatherAvx2 {
  static bool available();
  // Needs trace.used_lattice(); voxels the vector loop cannot take (the tail, depths past
  // the weight table) go to `scalar`. Returns the (voxel, member) hits.
  static int64_t add(const SourceGroupTrace& trace, const DepthWeightTable& table,
                     const GroupPlanes& planes, int components, float* dose,
                     GroupDoseRange scalar);
};

// Returns the (voxel, member) hits.
template <int K>
int64_t add_group_dose(const SourceGroupTrace& trace, const DepthWeightTable& table,
                       const GroupPlanes& planes, bool vector, float* dose) {
  if (vector && trace.used_lattice() && GroupGatherAvx2::available())
    return GroupGatherAvx2::add(trace, table, planes, K, dose, &add_group_dose_scalar<K>);
  return add_group_dose_scalar<K>(trace, table, planes, dose, 0, trace.voxels());
}

}  // namespace vmatplan::detail
