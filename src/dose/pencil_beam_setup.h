#pragma once
// Private to src/dose: the precomputed sparse geometry of the pencil-beam engine (no
// LibTorch here, so the ray tracing compiles fast and can be read on its own).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "control_point_trace.h"
#include "vmatplan/dose/beam_model.h"
#include "vmatplan/dose/dose_volume.h"
#include "vmatplan/dose/pencil_beam_engine.h"

namespace vmatplan::detail {

// A std::vector element allocator that default-initialises: resize() leaves new float and
// int elements unwritten (the set-up writes every one of them right after).
// malloc, or for blocks of 4 MiB and more 2 MiB-aligned memory advised as huge pages;
// either is released with std::free. Throws std::bad_alloc.
void* allocate_bytes(size_t bytes);

template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  // Large blocks on transparent huge pages (2 MiB): the set-up writes hundreds of MB of
  // entries once, and with 4 KiB pages the page faults and TLB misses of those first
  // writes cost as much as the tracing (perf, 2026-12-07). No effect on the values.
  T* allocate(size_t n) { return static_cast<T*>(allocate_bytes(n * sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { std::free(p); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};
template <class T>
using UninitVector = std::vector<T, DefaultInitAllocator<T>>;

// The bilinear fractions in 16 bits: 4 bytes less per entry than two floats (a fifth of
// the operator's memory, hundreds of MB that the set-up writes once and every forward and
// gradient read), and the position error, under 1e-5 of a sample step, is far below
// anything the dose resolves. u * kFractionUnit is exact in float.
constexpr float kFractionUnit = 1.0f / 65536.0f;
inline uint16_t fraction_bits(float f) {
  return static_cast<uint16_t>(std::min(65535.0f, f * 65536.0f + 0.5f));
}

// One entry per (control point, voxel) pair in the field: the voxel's bilinear position
// on the sample plane and the per-component depth/inverse-square/calibration factors.
// The voxels are kept as runs of consecutive compute voxels (20 bytes per entry with the
// 16-bit fractions, instead of 28 with an index and float fractions). A block holds the entries of a contiguous run of control
// points (one block per set-up thread, kept as written: no merge copy).
struct EntryBlock {
  UninitVector<int32_t> base;   // iy * width + ix of the lower-left sample
  UninitVector<uint16_t> fx, fy;  // bilinear fractions in [0, 1), units of kFractionUnit
  UninitVector<float> weight;   // [entry][component]: c_cal (SAD/z)^2 w_k(d)
  // Run r: entries [run_entry[r], run_entry[r] + run_length[r]) are the compute voxels
  // run_voxel[r], run_voxel[r] + 1, ... (indices into volume.compute_voxels).
  std::vector<int64_t> run_entry;
  std::vector<int32_t> run_voxel, run_length;
};

struct EngineData {
  DoseVolume volume;
  BeamModel model;
  FluenceGrid fluence_grid;
  SamplePlane plane;
  int64_t control_points = 0;
  int64_t components = 0;
  std::vector<EntryBlock> blocks;
  // Control point c's entries: blocks[cp_block[c]], indices [cp_begin[c], cp_end[c]), in
  // runs [cp_run_begin[c], cp_run_end[c]).
  std::vector<int32_t> cp_block;
  std::vector<int64_t> cp_begin, cp_end, cp_run_begin, cp_run_end;
  int64_t entries = 0;
  double setup_seconds = 0;
  int64_t lattice_control_points = 0;  // depths from a lattice rather than exact traces
  bool vector_gather = true;  // DoseEngineOptions::vector_gather

  size_t bytes() const {
    size_t n = volume.red.size() * sizeof(float) + volume.compute_voxels.size() * sizeof(int64_t);
    for (const EntryBlock& b : blocks)
      n += b.base.size() * (sizeof(int32_t) + 2 * sizeof(uint16_t)) + b.weight.size() * sizeof(float) +
           b.run_entry.size() * (sizeof(int64_t) + 2 * sizeof(int32_t));
    return n;
  }
};

EngineData build_engine_data(const Patient& patient, const Machine& machine,
                             const PlanGeometry& geometry, const FluenceGrid& grid,
                             const DoseEngineOptions& options);

// Separable integral of Gaussian `sigma_mm` over each cell [edges[i], edges[i+1]] seen from
// the sample positions x0 + j*step: matrix [samples][cells], row-major.
std::vector<double> cell_integral_matrix(const std::vector<double>& edges_mm, double x0_mm,
                                         double step_mm, int64_t samples, double sigma_mm);

}  // namespace vmatplan::detail
