#pragma once
// One-shot dose of fluence maps, computed one control point at a time: the fast, lean
// path for a plan's final dose (and any dose computed once). Same model, grid and numbers
// as PencilBeamEngine (docs/dose_model.md), but nothing is kept across control points:
// each worker convolves one control point's fluence onto its sample plane, traces that
// control point's depth lattice and adds its dose into the voxels. Control points with
// the same source (the two default arcs at each gantry angle) share one lattice, so
// depths differ from the engine's within the lattice's interpolation (gamma 1 %/1 mm
// 100 % on the phantom plans, docs/dose_model.md). Memory is the dose
// volume plus one plane and one lattice per thread, not the engine's ~20 bytes per
// (voxel, control point) pair; no LibTorch, no gradients.
//
//   DoseCalculationStats stats;
//   Image3D<float> dose = calculate_dose(patient, machine, geometry, fluence, {3.0}, &stats);
#include <cstdint>

#include "vmatplan/core/image3d.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DoseCalculationStats {
  int64_t control_points = 0;          // with any fluence
  int64_t compute_voxels = 0;          // dose voxels inside the body
  int64_t pairs = 0;                   // (control point, voxel) pairs in the field
  int64_t lattice_control_points = 0;  // depths from a lattice rather than exact traces
  double volume_seconds = 0;           // dose grid, RED, body
  double seconds = 0;                  // the whole call
};

// fluence: [control points of geometry, in beam order] on its grid, MU per bixel.
// Returns dose in Gy on the dose grid of `options` (zero outside the compute voxels).
// Threads: thread_count().
Image3D<float> calculate_dose(const Patient& patient, const Machine& machine,
                              const PlanGeometry& geometry, const FluenceMaps& fluence,
                              const DoseEngineOptions& options = {},
                              DoseCalculationStats* stats = nullptr);

}  // namespace vmatplan
