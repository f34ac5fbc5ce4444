#pragma once
// The training set of the learned stages, written by `generate --training-export` (one
// example per plan folder) and `batch --training-set` (plus the dataset manifest).
// Format: docs/training_set.md.
//
//   SafeTensorsFile ex = make_training_example({patient, protocol, machine, roles, opt, fluence});
//   write_safetensors(ex, plan_dir + "/" + kTrainingFileName);
//   nlohmann::json m = write_training_manifest(out, cohort);   // batch, after every run
//
// OUT/<id>/training.safetensors tensors:
//   conditioning [C, K, R, B] F32  compute_bev_conditioning (geometry/bev_conditioning.h)
//   fluence      [C, R, B]    F32  the fluence after the refiner, before sequencing, in MU
//                                  per fraction (plan MU / fractions)
//   gantry_deg, collimator_deg [C] F32;  beam_index [C] I32 (0-based beam of each cp)
// and __metadata__ (strings; JSON text for lists and objects) describing channels, patient,
// protocol, machine, stages, seed and the fluence grid.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/core/safetensors.h"
#include "vmatplan/pipeline/batch.h"
#include "vmatplan/pipeline/fluence_stages.h"

namespace vmatplan {

inline constexpr const char* kTrainingFileName = "training.safetensors";
inline constexpr const char* kTrainingManifestName = "training_manifest.json";
// 2: reference plans for the apertures sequencer (fluence priced by its MU and a
// single-hump term, issue 11); 1: for the sliding-window sweep. Examples of another
// version are redone by batch --resume and never mixed into a manifest.
inline constexpr int kTrainingSetVersion = 2;

struct TrainingExampleInputs {
  const Patient& patient;
  const Protocol& protocol;
  const Machine& machine;
  const StructureRoles& roles;
  const GenerateOptions& options;  // machine name, stages, seed
  const FluencePlan& fluence;      // after the refiner
  int fractions = 1;               // plan MU / fractions = MU per fraction
};

// InputError when the protocol's target has no structure (see compute_bev_conditioning).
SafeTensorsFile make_training_example(const TrainingExampleInputs& inputs);

// True when `patient_dir` is finished and holds a training example of this version.
bool has_training_example(const std::string& patient_dir);

// Rebuilds OUT/training_manifest.json (written atomically) from the finished folders of
// `cohort` that hold a training example, in cohort order; returns it.
nlohmann::json write_training_manifest(const std::string& out, const std::vector<CohortEntry>& cohort);

}  // namespace vmatplan
