#pragma once
// Differentiable photon pencil-beam (fluence-convolution) dose engine in LibTorch.
// Dose is linear in fluence; gradients w.r.t. fluence come from autograd (a custom
// autograd function whose backward is the exact transpose of its forward).
//
//   PencilBeamEngine engine(patient, machine, geometry, fluence_grid, {.dose_spacing_mm=5});
//   torch::Tensor f = torch::ones({cps, rows, bixels}).requires_grad_();  // MU per bixel
//   torch::Tensor d = engine.dose(f);          // Gy, [nz, ny, nx] on engine.dose_grid()
//
// Set-up ray-traces every (control point, body voxel) pair once and keeps the sparse
// geometry; dose() is then two small matrix products per kernel component (the exact
// convolution of the piecewise-constant bixel fluence with Gaussians, sampled on a
// uniform plane) and a bilinear gather into the voxels. Model: docs/dose_model.md.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient.h"

namespace at { class Tensor; }

namespace vmatplan {

// How radiological depths are found in set-up: an exact trace per voxel (Siddon-like DDA),
// or interpolation on a beam-aligned lattice of exactly integrated rays (spacing = dose
// spacing); kAuto picks whichever costs less for each control point.
enum class DepthMethod { kAuto, kExactTrace, kLattice };

struct DoseEngineOptions {
  double dose_spacing_mm = 5.0;   // isotropic dose grid aligned with the CT, inside BODY
  std::string body_role = "body"; // which structure bounds the dose grid (StructureRoles)
  // Spacing of the plane on which the convolved fluence is sampled (isocentre plane);
  // 0 = half the smallest of dose spacing, bixel width and leaf width.
  double plane_spacing_mm = 0.0;
  std::string hu_to_red_path;     // "" = configs/hu_to_red.json
  // Optional mask on the CT grid: compute only dose voxels touching it (and in the body).
  // Only read during construction.
  const Mask* compute_mask = nullptr;
  DepthMethod depth_method = DepthMethod::kAuto;
  // SIMD gathers where the CPU has them (checked at run time; the same floats as the scalar
  // loops, which false forces): calculate_dose's gather 8 voxels at a time with AVX2, and
  // for float fluence the engine's forward gather (dose(), dose_at_voxels(),
  // control_point_doses()) with the kernel components in SSE lanes (AVX masked loads).
  bool vector_gather = true;
};

class PencilBeamEngine {
 public:
  PencilBeamEngine(const Patient& patient, const Machine& machine,
                   const PlanGeometry& geometry, const FluenceGrid& grid,
                   const DoseEngineOptions& options = {});
  ~PencilBeamEngine();
  PencilBeamEngine(PencilBeamEngine&&) noexcept;

  // fluence: float or double [control points, rows, bixels], MU. Returns dose in Gy on
  // dose_grid(), shape [nz, ny, nx]; differentiable w.r.t. fluence.
  at::Tensor dose(const at::Tensor& fluence) const;
  // The same dose at compute_voxels() only (1-D, in that order): what optimizers need.
  at::Tensor dose_at_voxels(const at::Tensor& fluence) const;
  // The dose of each control point's fluence on its own: [control points, compute voxels]
  // (rows in control-point order, columns in compute_voxels() order), not differentiable.
  // Dose is linear in fluence, so this gives the columns of a dose matrix (e.g. per
  // aperture in meterset optimisation). Memory: control points x voxels x element size.
  at::Tensor control_point_doses(const at::Tensor& fluence) const;
  const ImageGrid& dose_grid() const;
  // Linear indices (into dose_grid()) of the voxels that receive dose.
  const std::vector<int64_t>& compute_voxels() const;
  // values (one per voxel of dose_grid(), e.g. a dose correction) at compute_voxels(), as
  // a float tensor in that order; ProcessingError naming `user` when the sizes differ.
  at::Tensor values_at_compute_voxels(const std::vector<float>& values, const std::string& user) const;

  // Without tensors: dose of fluence maps (on the engine's grid) as an image.
  Image3D<float> dose_image(const FluenceMaps& fluence) const;

  int64_t control_point_count() const;
  const FluenceGrid& fluence_grid() const;
  int64_t entry_count() const;        // (control point, voxel) pairs in the field
  double setup_seconds() const;       // ray tracing and precomputation
  int64_t lattice_control_points() const;  // control points whose depths used a lattice
  size_t memory_bytes() const;        // precomputed data held by the engine
  double reference_dmax_mm() const;   // of the beam model's calibration field

 private:
  // Fluence convolved with each kernel component on the sample plane: [C, H, W, K].
  at::Tensor sample_planes(const at::Tensor& fluence) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Threads of the dose engine (n <= 0: all hardware threads): vmatplan's thread_count(),
// which the engine's set-up and gather use; LibTorch's intra-op threads are set to 1 (see
// the definition for why). The CLI calls this with its --threads value.
void set_dose_engine_threads(int n);

}  // namespace vmatplan
