// The AVX2 form of add_group_dose_scalar (source_group_gather.h): the same expressions in
// the same order, 8 voxels at a time, with gathers for the lattice, the weight table and
// the planes. Compiled for AVX2 by function attribute only (no FMA, so no contraction),
// called only after a run-time check of the CPU.
#include <immintrin.h>

#include "source_group_gather.h"

namespace vmatplan::detail {
namespace {

#define VMATPLAN_AVX2 __attribute__((target("avx2")))

VMATPLAN_AVX2 inline __m256 splat(float x) { return _mm256_set1_ps(x); }

// a + t (b - a), as the scalar interpolations write it.
VMATPLAN_AVX2 inline __m256 lerp(__m256 a, __m256 b, __m256 t) {
  return _mm256_add_ps(a, _mm256_mul_ps(t, _mm256_sub_ps(b, a)));
}

// std::clamp(x, 0, hi) for finite x.
VMATPLAN_AVX2 inline __m256 clamp0(__m256 x, __m256 hi) {
  return _mm256_min_ps(_mm256_max_ps(x, _mm256_setzero_ps()), hi);
}

// The two 16-bit depths of a lattice ray at z samples iz and iz + 1, one 32-bit gather.
VMATPLAN_AVX2 inline void ray_pair(const int* base, __m256i index, __m256& lo, __m256& hi) {
  const __m256i g = _mm256_i32gather_epi32(base, index, 2);
  lo = _mm256_cvtepi32_ps(_mm256_and_si256(g, _mm256_set1_epi32(0xffff)));
  hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(g, 16));
}

}  // namespace

bool GroupGatherAvx2::available() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

VMATPLAN_AVX2 int64_t GroupGatherAvx2::add(const SourceGroupTrace& t, const DepthWeightTable& table,
                                            const GroupPlanes& planes, int K, float* dose,
                                            GroupDoseRange scalar) {
  const TraceContext& c = *t.context_;
  const int64_t n = t.voxels(), n8 = n - n % 8;
  const float* r = t.r_;
  const __m256 sad = splat(t.sad_), one = splat(1.0f), zero = _mm256_setzero_ps();
  const __m256 r0 = splat(r[0]), r1 = splat(r[1]), r2 = splat(r[2]), r3 = splat(r[3]),
               r4 = splat(r[4]), r5 = splat(r[5]), r6 = splat(r[6]), r7 = splat(r[7]),
               r8 = splat(r[8]);
  const __m256 u_max = splat(t.u_max_), w_max = splat(t.w_max_);
  const DepthLattice& L = *t.lattice_;
  const __m256 lu0 = splat(L.u0_), lv0 = splat(L.v0_), lz0 = splat(L.z0_);
  const __m256 l_inv_du = splat(L.inv_du_), l_inv_dz = splat(L.inv_dz_);
  const __m256 lu_hi = splat(L.nu_ - 1.0001f), lv_hi = splat(L.nv_ - 1.0001f),
               lz_hi = splat(L.nz_ - 1.0001f);
  const __m256i l_nu = _mm256_set1_epi32(L.nu_), l_nz = _mm256_set1_epi32(L.nz_),
                l_row = _mm256_set1_epi32(L.nu_ * L.nz_);
  const int* lattice = reinterpret_cast<const int*>(L.depth_.data());
  const __m256 per_unit = splat(1.0f / DepthLattice::kUnitsPerMm);
  const __m256 t_inv = splat(table.inv_step_), t_last = splat(table.last_);
  const __m256i k_count = _mm256_set1_epi32(K);
  const __m256i row = _mm256_set1_epi32(static_cast<int>(planes.width * K));
  int64_t hits = 0;
  for (int64_t v = 0; v < n8; v += 8) {
    const __m256 x = _mm256_loadu_ps(&c.px[v]), y = _mm256_loadu_ps(&c.py[v]),
                 q = _mm256_loadu_ps(&c.pz[v]);
    // SourceGroupTrace::project
    const __m256 z = _mm256_sub_ps(
        sad, _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(r2, x), _mm256_mul_ps(r5, y)), _mm256_mul_ps(r8, q)));
    const __m256 valid = _mm256_cmp_ps(z, one, _CMP_GE_OQ);
    if (!_mm256_movemask_ps(valid)) continue;
    const __m256 s = _mm256_div_ps(sad, z);
    const __m256 xi = _mm256_mul_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(r0, x), _mm256_mul_ps(r3, y)), _mm256_mul_ps(r6, q)), s);
    const __m256 yi = _mm256_mul_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(r1, x), _mm256_mul_ps(r4, y)), _mm256_mul_ps(r7, q)), s);
    __m256 in[SourceGroupTrace::kMaxMembers], u[SourceGroupTrace::kMaxMembers],
        w[SourceGroupTrace::kMaxMembers];
    int bits[SourceGroupTrace::kMaxMembers];
    __m256 any = zero;
    for (int m = 0; m < t.members_; ++m) {
      const float* a = t.to_plane_[m];
      u[m] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(splat(a[0]), xi), _mm256_mul_ps(splat(a[1]), yi)), splat(a[4]));
      w[m] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(splat(a[2]), xi), _mm256_mul_ps(splat(a[3]), yi)), splat(a[5]));
      const __m256 lo = _mm256_and_ps(_mm256_cmp_ps(u[m], zero, _CMP_GE_OQ), _mm256_cmp_ps(w[m], zero, _CMP_GE_OQ));
      const __m256 hi = _mm256_and_ps(_mm256_cmp_ps(u[m], u_max, _CMP_LT_OQ), _mm256_cmp_ps(w[m], w_max, _CMP_LT_OQ));
      in[m] = _mm256_and_ps(valid, _mm256_and_ps(lo, hi));
      bits[m] = _mm256_movemask_ps(in[m]);
      any = _mm256_or_ps(any, in[m]);
    }
    if (!_mm256_movemask_ps(any)) continue;
    // DepthLattice::depth_mm; lanes that hit nothing read ray 0 and are dropped.
    __m256 fu = clamp0(_mm256_mul_ps(_mm256_sub_ps(_mm256_and_ps(any, xi), lu0), l_inv_du), lu_hi);
    __m256 fv = clamp0(_mm256_mul_ps(_mm256_sub_ps(_mm256_and_ps(any, yi), lv0), l_inv_du), lv_hi);
    __m256 fz = clamp0(_mm256_mul_ps(_mm256_sub_ps(_mm256_and_ps(any, z), lz0), l_inv_dz), lz_hi);
    const __m256i iu = _mm256_cvttps_epi32(fu), iv = _mm256_cvttps_epi32(fv), iz = _mm256_cvttps_epi32(fz);
    fu = _mm256_sub_ps(fu, _mm256_cvtepi32_ps(iu));
    fv = _mm256_sub_ps(fv, _mm256_cvtepi32_ps(iv));
    fz = _mm256_sub_ps(fz, _mm256_cvtepi32_ps(iz));
    const __m256i ia = _mm256_add_epi32(
        _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(iv, l_nu), iu), l_nz), iz);
    __m256 a0, a1, b0, b1, c0, c1, e0, e1;
    ray_pair(lattice, ia, a0, a1);
    ray_pair(lattice, _mm256_add_epi32(ia, l_nz), b0, b1);
    ray_pair(lattice, _mm256_add_epi32(ia, l_row), c0, c1);
    ray_pair(lattice, _mm256_add_epi32(_mm256_add_epi32(ia, l_row), l_nz), e0, e1);
    const __m256 za = lerp(a0, a1, fz), zb = lerp(b0, b1, fz), zc = lerp(c0, c1, fz), ze = lerp(e0, e1, fz);
    const __m256 depth = _mm256_mul_ps(lerp(lerp(za, zb, fu), lerp(zc, ze, fu), fv), per_unit);
    // DepthWeightTable::at; a lane past the table goes the scalar way with its block.
    const __m256 f = _mm256_and_ps(any, _mm256_mul_ps(_mm256_max_ps(depth, zero), t_inv));
    if (_mm256_movemask_ps(_mm256_cmp_ps(f, t_last, _CMP_GE_OQ))) {
      hits += scalar(t, table, planes, dose, v, v + 8);
      continue;
    }
    const __m256i ti = _mm256_cvttps_epi32(f);
    const __m256 tf = _mm256_sub_ps(f, _mm256_cvtepi32_ps(ti));
    const __m256i t_base = _mm256_mullo_epi32(ti, k_count);
    __m256 wt[4];
    for (int k = 0; k < K; ++k) {
      const __m256i ik = _mm256_add_epi32(t_base, _mm256_set1_epi32(k));
      wt[k] = lerp(_mm256_i32gather_ps(table.values_.data(), ik, 4),
                   _mm256_i32gather_ps(table.values_.data(), _mm256_add_epi32(ik, k_count), 4), tf);
    }
    // The bilinear plane samples of each member, summed over members and components in the
    // scalar loop's order (a lane a member misses adds 0).
    __m256 sum = zero;
    for (int m = 0; m < t.members_; ++m) {
      if (!bits[m]) continue;
      hits += __builtin_popcount(static_cast<unsigned>(bits[m]));
      const __m256 um = _mm256_and_ps(in[m], u[m]), wm = _mm256_and_ps(in[m], w[m]);
      const __m256i ix = _mm256_cvttps_epi32(um), iy = _mm256_cvttps_epi32(wm);
      const __m256 fx = _mm256_sub_ps(um, _mm256_cvtepi32_ps(ix));
      const __m256 fy = _mm256_sub_ps(wm, _mm256_cvtepi32_ps(iy));
      const float* p = planes.values + m * planes.size;
      const __m256i p00 = _mm256_add_epi32(_mm256_mullo_epi32(iy, row), _mm256_mullo_epi32(ix, k_count));
      const __m256i p10 = _mm256_add_epi32(p00, row);
      for (int k = 0; k < K; ++k) {
        const __m256i i00 = _mm256_add_epi32(p00, _mm256_set1_epi32(k));
        const __m256i i10 = _mm256_add_epi32(p10, _mm256_set1_epi32(k));
        const __m256 top = lerp(_mm256_i32gather_ps(p, i00, 4),
                                _mm256_i32gather_ps(p, _mm256_add_epi32(i00, k_count), 4), fx);
        const __m256 bottom = lerp(_mm256_i32gather_ps(p, i10, 4),
                                   _mm256_i32gather_ps(p, _mm256_add_epi32(i10, k_count), 4), fx);
        sum = _mm256_add_ps(sum, _mm256_and_ps(in[m], _mm256_mul_ps(wt[k], lerp(top, bottom, fy))));
      }
    }
    const __m256 add = _mm256_and_ps(any, _mm256_mul_ps(_mm256_mul_ps(s, s), sum));
    _mm256_storeu_ps(&dose[v], _mm256_add_ps(_mm256_loadu_ps(&dose[v]), add));
  }
  return hits + scalar(t, table, planes, dose, n8, n);
}

}  // namespace vmatplan::detail
