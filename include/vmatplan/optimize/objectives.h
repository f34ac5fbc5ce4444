#pragma once
// Differentiable optimisation objectives on the dose at the engine's compute voxels.
//
//   PlanObjective obj(patient, protocol, roles, engine.dose_grid(), engine.compute_voxels());
//   at::Tensor d = engine.dose_at_voxels(fluence);   // 1-D, Gy
//   at::Tensor f = obj.value(d);                     // scalar, differentiable w.r.t. d
//
// Structures on the dose grid: masks stay on the CT grid where they were rasterised; each
// dose voxel gets the FRACTION of its CT voxels (by centre) that lie inside the structure.
// A term sums over the dose voxels with a non-zero fraction, each weighted by it, and
// divides by the summed fractions (the structure's volume in dose voxels), so a term's
// value does not grow with the structure's size or the grid spacing. Values are in Gy^2
// times the term's weight (gEUD and mean-dose terms: squared excess of that dose).
//
// Terms (ObjectiveKind), for voxel doses d_i, fractions w_i, W = sum w_i, level D:
//   kMinDose      sum w_i max(0, D - d_i)^2 / W
//   kMaxDose      sum w_i max(0, d_i - D)^2 / W
//   kMaxMeanDose  max(0, mean_w(d) - D)^2
//   kUniformDose  sum w_i (d_i - D)^2 / W
//   kDvhMax       V(D) <= v%: Wu & Mohan, Med Phys 27:701 (2000): with D_v the current
//                 dose at volume v%, voxels with D < d_i <= D_v add w_i (d_i - D)^2 / W
//   kDvhMin       D_v% >= D: voxels with D_v <= d_i < D add w_i (D - d_i)^2 / W
//   kGeudMax/Min  gEUD = (sum w_i d_i^a / W)^(1/a) (Niemierko, Med Phys 26:1100 (1999));
//                 max(0, gEUD - D)^2, resp. max(0, D - gEUD)^2
//   kFallOff      voxels of the region outside the target, at distance r_i (mm, from the
//                 nearest centre of a dose voxel overlapping the target): sum w_i max(0, d_i - L(r_i))^2 / W
//                 with L the ring's limit (FallOffRing::limit_gy) and W the region's size
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/patient/patient.h"
#include "vmatplan/patient/structure_roles.h"

namespace at { class Tensor; }

namespace vmatplan {

// A structure on the compute voxels: positions in the dose vector and the fraction of
// each of those dose voxels inside the structure, in (0, 1].
struct VoxelWeights {
  std::vector<int64_t> index;
  std::vector<double> fraction;
  double total() const;  // sum of fractions (volume in dose voxels)
};

// `mask` (on its CT grid) onto the dose voxels compute_voxels (linear indices into
// dose_grid): fraction of each dose voxel's CT voxels, by centre, inside the mask.
VoxelWeights structure_on_dose_grid(const Mask& mask, const ImageGrid& dose_grid,
                                    const std::vector<int64_t>& compute_voxels);

// Distance (mm) from each compute voxel's centre to the nearest centre of a dose voxel
// that overlaps the target (fraction > 0; 0 for those voxels). Any overlap counts, so no
// voxel is pushed up by the target's terms and down by the fall-off ring at once (that
// conflict left the target's edges cold). Exact Euclidean by brute force over the
// target's surface voxels. ProcessingError when the target covers no dose voxel.
std::vector<double> distance_to_target_mm(const VoxelWeights& target, const ImageGrid& dose_grid,
                                          const std::vector<int64_t>& compute_voxels);

// One weighted objective term.
class ObjectiveTerm {
 public:
  // distance_mm: per compute voxel (kFallOff only; else empty); rx_gy: the prescription
  // the fall-off ring's percentages refer to.
  ObjectiveTerm(ObjectiveSpec spec, VoxelWeights voxels, std::string structure_name,
                std::vector<double> distance_mm = {}, double rx_gy = 0.0);
  ~ObjectiveTerm();
  ObjectiveTerm(ObjectiveTerm&&) noexcept;
  ObjectiveTerm& operator=(ObjectiveTerm&&) noexcept;

  // Weighted value (scalar, dtype of dose) for the dose at all compute voxels (1-D).
  at::Tensor value(const at::Tensor& dose_gy) const;
  const ObjectiveSpec& spec() const;
  const std::string& structure_name() const;
  std::string label() const;  // e.g. "Rectum dvh_max 40.8 Gy 50 %"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// All the protocol's objective terms for one patient and dose grid.
class PlanObjective {
 public:
  // Structures by role. A target (prescription) role that does not resolve is a
  // ProcessingError listing the patient's structures; other missing roles skip their
  // terms (listed in skipped()).
  PlanObjective(const Patient& patient, const Protocol& protocol, const StructureRoles& roles,
                const ImageGrid& dose_grid, const std::vector<int64_t>& compute_voxels);
  // From ready-made terms (tests).
  explicit PlanObjective(std::vector<ObjectiveTerm> terms);
  ~PlanObjective();
  PlanObjective(PlanObjective&&) noexcept;

  at::Tensor value(const at::Tensor& dose_gy) const;  // sum of the terms
  // Each term's value (no gradient), in term order.
  std::vector<double> term_values(const at::Tensor& dose_gy) const;
  const std::vector<ObjectiveTerm>& terms() const;
  const std::vector<std::string>& skipped() const;

 private:
  std::vector<ObjectiveTerm> terms_;
  std::vector<std::string> skipped_;
};

}  // namespace vmatplan
