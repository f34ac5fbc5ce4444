#pragma once
// Private to src/dose: the stored engine's forward gather (dose[v] += sum_k w_k bilinear(P_k)
// over one control point's entries, pencil_beam_engine.cpp) with the kernel components in
// the lanes of an SSE register, AVX masked loads where the CPU has AVX (checked at run time;
// the binary stays plain x86-64). The same expressions in the same order as the scalar loop
// and no FMA contraction, so both give the same floats (a test compares them). No LibTorch.
#include <cstdint>

#include "pencil_beam_setup.h"

namespace vmatplan::detail {

struct EntryGatherAvx {
  // AVX present and 1 to 4 kernel components.
  static bool usable(const EngineData& d);
  // Adds the dose of control points [cp_begin, cp_end) (planes [C, H, W, K] floats) into
  // dose (compute-voxel order).
  static void forward(const EngineData& d, const float* planes, int64_t cp_begin, int64_t cp_end,
                      float* dose);
};

}  // namespace vmatplan::detail
