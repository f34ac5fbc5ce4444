#pragma once
// The FMD training data: the examples of a `batch --training-set` folder
// (docs/training_set.md), split into arcs, normalised, and cut into batches of
// control-point windows on the canvas.
//
//   FmdDataset train = load_fmd_dataset("runs/train", kTrainingSetVersion);
//   FmdBatch b = make_fmd_batch(train, canvas, {{arc, first_cp}, ...}, window, device);
//
// Normalisation (docs/fmd.md): the network's fluence is
//     x = fluence [MU per fraction] / fmd_fluence_scale_mu(dose per fraction, C)
// with fmd_fluence_scale_mu = dose_per_fraction_gy * 100 MU/Gy / C, C the plan's control
// points (all arcs): x = 1 is the fluence of a plan that spreads 100 MU per Gy evenly over
// its control points, so plans with other prescriptions or control-point spacings land on
// the same scale. Inference multiplies back (and by the fractions for plan MU).
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/learn/fmd_canvas.h"

namespace vmatplan {

inline constexpr double kFmdMuPerGy = 100.0;

// MU per fraction of one control point at x = 1 (see above).
double fmd_fluence_scale_mu(double dose_per_fraction_gy, int plan_control_points);

// One arc of one example, on its plan's grid (compact; mapped to the canvas per batch).
struct FmdArc {
  std::string source;                 // "FILE arc N" for messages
  FluenceGrid grid;
  int control_points = 0;
  std::vector<float> conditioning;    // [C][K][R][B], K = kBevChannelCount
  std::vector<float> fluence;         // [C][R][B], normalised (x above)
  std::vector<float> gantry_deg;      // [C]
};

struct FmdDataset {
  std::string folder;
  std::string data_version;           // the manifest's SHA-256 identity of the examples
  int training_set_version = 0;
  int patients = 0;
  std::vector<FmdArc> arcs;
  int min_control_points = 0;         // over arcs: the longest possible training window
};

// Reads FOLDER/training_manifest.json and every example it lists. InputError naming the
// file: a missing or unreadable manifest, a format version other than
// `expected_training_set_version` (the data were made by another planner version), an
// example whose size or SHA-256 differs from the manifest, missing tensors or metadata.
// Every grid must lie on `canvas` (check_grid_on_canvas).
FmdDataset load_fmd_dataset(const std::string& folder, int expected_training_set_version,
                            const FmdCanvas& canvas);

// RMS and std of the normalised fluence as the networks see it (on the canvas, zeros
// outside the plan grid included): EDM's sigma_data is the std.
struct FmdDataStats {
  double mean = 0, std = 0;
};
FmdDataStats measure_fmd_data(const FmdDataset& data, const FmdCanvas& canvas);

// Conditioning of `control_points` control points on the canvas: [K + 2, C, R, X], the
// BEV channels then sin and cos of the gantry angle. `conditioning` is [C][K][R][B] on grid.
torch::Tensor fmd_condition_on_canvas(const FmdCanvas& canvas, const FluenceGrid& grid,
                                      const float* conditioning, const float* gantry_deg, int control_points);

struct FmdBatch {
  torch::Tensor fluence;    // [B, 1, W, R, X]
  torch::Tensor condition;  // [B, K + 2, W, R, X]
};
// Windows (arc index, first control point) of `window` control points each.
FmdBatch make_fmd_batch(const FmdDataset& data, const FmdCanvas& canvas,
                        const std::vector<std::pair<int, int>>& windows, int window, torch::Device device);

}  // namespace vmatplan
