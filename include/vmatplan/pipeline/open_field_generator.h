#pragma once
// The "open field on the PTV projection" baseline of issue 12 (docs/fmd.md, "Baselines"):
// generator "open-field". Every control point's fluence is one constant on the bixels the
// target covers in the beam's eye view and 0 elsewhere; no optimisation, no weights,
// deterministic.
//
//   auto g = make_fluence_generator("open-field");   // registered in fluence_stages.cpp
//   FluencePlan f = g->generate(context);
//
// Open: target coverage > kOpenFieldCoverage, from the target channel of the BEV
// conditioning (geometry/bev_conditioning.h: the covered fraction of the bixel's area by
// the target's divergent projection), on the geometry and grid the FMD generators use
// (start_bev_plan). The constant meets the protocol's normalisation rule on the
// optimisation dose grid, as the classical generator's fluence does: the unit field's dose
// (PencilBeamEngine at options.dose_spacing_mm, kept in FluencePlan::engine for the meterset
// stage) times evaluate_plan's normalisation_scale. ProcessingError when the target covers
// no bixel by more than half.
#include <memory>

#include "vmatplan/pipeline/fluence_stages.h"

namespace vmatplan {

inline constexpr double kOpenFieldCoverage = 0.5;  // more than half the bixel's area

std::unique_ptr<FluenceGenerator> make_open_field_generator();

}  // namespace vmatplan
