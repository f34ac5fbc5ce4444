// The SIMD form of the stored engine's forward gather (entry_gather.h). Per entry
//   sum = sum_k w_k (top_k + fy (bottom_k - top_k)), top_k = p00_k + fx (p01_k - p00_k), ...
// as gather_forward<float, K> in pencil_beam_engine.cpp writes it, with the K <= 4 kernel
// components in the lanes of one 128-bit register: the plane stores a sample's components
// next to each other ([y][x][k]), so p00, p01, p10 and p11 are four short loads instead of
// 4 K scalar ones (masked loads: no read past a plane's or the weights' end), and the sum
// over k is taken lane by lane in the scalar order. 8-voxel gathers (as calculate_dose's
// AVX2 gather does) were slower here: 0.11 s -> 0.17 s of CPU per forward pass (perf,
// phantom seed 1, 2026-12-07). Compiled for AVX by function attribute only (no FMA, so no
// contraction: the scalar loop's floats), called after a run-time check.
#include "entry_gather.h"

#include <immintrin.h>

#include <limits>

namespace vmatplan::detail {
namespace {

#define VMATPLAN_AVX __attribute__((target("avx")))

// a + t (b - a), as the scalar interpolations write it.
VMATPLAN_AVX inline __m128 lerp(__m128 a, __m128 b, __m128 t) {
  return _mm_add_ps(a, _mm_mul_ps(t, _mm_sub_ps(b, a)));
}

template <int K>
VMATPLAN_AVX void forward_k(const EngineData& d, const float* planes, int64_t cp_begin,
                            int64_t cp_end, float* dose) {
  const int64_t w = d.plane.width * K;
  const int64_t plane_size = d.plane.width * d.plane.height * K;
  const __m128i lanes = _mm_setr_epi32(K > 0 ? -1 : 0, K > 1 ? -1 : 0, K > 2 ? -1 : 0, K > 3 ? -1 : 0);
  for (int64_t c = cp_begin; c < cp_end; ++c) {
    const EntryBlock& b = d.blocks[d.cp_block[c]];
    const int32_t* base = b.base.data();
    const uint16_t *fxs = b.fx.data(), *fys = b.fy.data();
    const float* weight = b.weight.data();
    const float* plane = planes + c * plane_size;
    for (int64_t r = d.cp_run_begin[c]; r < d.cp_run_end[c]; ++r) {
      const int64_t e0 = b.run_entry[r], e1 = e0 + b.run_length[r];
      float* out = dose + b.run_voxel[r];  // out[e - e0]: the entry's voxel
      for (int64_t e = e0; e < e1; ++e) {
        const float* p00 = plane + static_cast<int64_t>(base[e]) * K;
        const float* p10 = p00 + w;
        const __m128 fx = _mm_set1_ps(fxs[e] * kFractionUnit), fy = _mm_set1_ps(fys[e] * kFractionUnit);
        const __m128 top = lerp(_mm_maskload_ps(p00, lanes), _mm_maskload_ps(p00 + K, lanes), fx);
        const __m128 bottom = lerp(_mm_maskload_ps(p10, lanes), _mm_maskload_ps(p10 + K, lanes), fx);
        alignas(16) float t[4];
        _mm_store_ps(t, _mm_mul_ps(_mm_maskload_ps(weight + e * K, lanes), lerp(top, bottom, fy)));
        float sum = 0;
        for (int k = 0; k < K; ++k) sum += t[k];
        out[e - e0] += sum;
      }
    }
  }
}

}  // namespace

bool EntryGatherAvx::usable(const EngineData& d) {
  static const bool avx = __builtin_cpu_supports("avx");
  return avx && d.components >= 1 && d.components <= 4;
}

void EntryGatherAvx::forward(const EngineData& d, const float* planes, int64_t cp_begin,
                              int64_t cp_end, float* dose) {
  with_kernel_components(d.components, [&](auto k) {
    forward_k<decltype(k)::value>(d, planes, cp_begin, cp_end, dose);
  });
}

}  // namespace vmatplan::detail
