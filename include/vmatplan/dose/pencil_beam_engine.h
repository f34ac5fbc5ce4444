#pragma once
// Differentiable photon pencil-beam (fluence-convolution) dose engine in LibTorch.
// Dose is linear in fluence; gradients w.r.t. fluence come from autograd.
//
//   PencilBeamEngine engine(patient, machine, geometry, fluence_grid, {.dose_spacing_mm=5});
//   torch::Tensor f = torch::ones({cps, rows, bixels}).requires_grad_();  // MU per bixel
//   torch::Tensor d = engine.dose(f);          // Gy, [nz, ny, nx] on engine.dose_grid()
#include <memory>

#include "vmatplan/core/image3d.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient.h"

namespace at { class Tensor; }

namespace vmatplan {

struct DoseEngineOptions {
  double dose_spacing_mm = 5.0;   // isotropic dose grid aligned with the CT, inside BODY
  std::string body_role = "body"; // which structure bounds the dose grid (StructureRoles)
};

class PencilBeamEngine {
 public:
  PencilBeamEngine(const Patient& patient, const Machine& machine,
                   const PlanGeometry& geometry, const FluenceGrid& grid,
                   const DoseEngineOptions& options = {});
  ~PencilBeamEngine();
  PencilBeamEngine(PencilBeamEngine&&) noexcept;

  // fluence: float [control points, rows, bixels], MU. Returns dose in Gy on dose_grid(),
  // shape [nz, ny, nx]; differentiable w.r.t. fluence.
  at::Tensor dose(const at::Tensor& fluence) const;
  const ImageGrid& dose_grid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmatplan
