#pragma once
// Sampling one arc's fluence with a trained FMD network (docs/fmd.md, "Inference").
//
//   LoadedFmdNetwork s = load_fmd_network("models/fmd", "student", kTrainingSetVersion, FmdCanvas{});
//   Tensor x = fmd_sample_arc(s, FmdNetworkRole::kStudent, condition, seed, 0);   // one evaluation
//   Tensor y = fmd_sample_arc(t, FmdNetworkRole::kTeacher, condition, seed, 18);  // 35 evaluations
//   Tensor r = fmd_sample_arc(g, FmdNetworkRole::kRegression, condition, 0, 0);  // one, no noise
//
// condition is [K + 2, C, R, X] on the canvas (fmd_condition_on_canvas); the result is the
// normalised fluence [C, R, X] on the canvas, clamped at 0 (fluence is not negative). The
// noise comes from a generator of its own seeded with `seed`: a fixed seed gives the same
// fluence, another seed another sample of the learned distribution. The regression baseline
// has no noise (G(0; c), fmd_one_step): the seed does not matter.
#include <cstdint>

#include <torch/torch.h>

#include "vmatplan/learn/fmd_model_io.h"

namespace vmatplan {

enum class FmdNetworkRole { kTeacher, kStudent, kRegression };

// Network evaluations of one sample: 1 for the student and the regression network, 2 N - 1
// for the teacher (Heun).
int fmd_network_evaluations(FmdNetworkRole role, int sampler_steps);

torch::Tensor fmd_sample_arc(LoadedFmdNetwork& network, FmdNetworkRole role, const torch::Tensor& condition,
                             uint64_t seed, int sampler_steps);

}  // namespace vmatplan
