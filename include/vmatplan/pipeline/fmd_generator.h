#pragma once
// The learned fluence generators (docs/fmd.md): "fmd" samples every arc's fluence with the
// one-step FMD student, "fmd-teacher" with its EDM teacher (Heun, sampler_steps steps), and
// the baseline "fmd-regression" evaluates the plain regression network once per arc (no
// noise: deterministic; its own model folder, default models/fmd-regression).
//
//   auto g = make_fluence_generator("fmd");        // registered in fluence_stages.cpp
//   context.learned = {"models/fmd", 7, 18};       // weights folder, noise seed, steps
//   FluencePlan f = g->generate(context);
//
// Steps: plan geometry and fluence grid as the classical planner makes them (isocentre at
// the target, jaws fitted, fluence_grid_for_plan) -> BEV conditioning
// (compute_bev_conditioning, the function the training export uses) -> per arc: canvas,
// network, back to the plan grid (fmd_canvas.h, exact) -> MU: x * fmd_fluence_scale_mu
// (dose per fraction, control points) * fractions. No engine is built and no
// normalisation is applied here: the meterset stage and the final MU renormalisation of
// `generate` do that. info (summary.json "fluence_stage") records the generator, weights
// folder, file and SHA-256, seed, steps, network evaluations and the seconds spent.
// A missing or wrong model folder is an InputError naming the file.
#include <memory>

#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/learn/refine_problem.h"
#include "vmatplan/pipeline/fluence_stages.h"

namespace vmatplan {

enum class FmdGeneratorKind { kStudent, kTeacher, kRegression };

std::unique_ptr<FluenceGenerator> make_fmd_generator(FmdGeneratorKind kind);

// Why the FMD student cannot plan this context, or "" when it can: generator "auto" (the
// default, fluence_stages.h) plans with the student then, else with the classical
// optimiser. Reasons: no weights folder given and no shipped models/fmd (an install
// without models), or the plan's fluence grid is not on the canvas (bixels other than 5 or
// 10 mm, a target wider than the canvas). A folder given with --weights, or a shipped one
// that is broken, is not a reason: the student's load then fails with the file named.
std::string fmd_student_unavailable_reason(const FluenceStageContext& context);

// Where every BEV-conditioned generator (the ones above, "open-field") starts: the plan
// geometry and fluence grid as the classical planner makes them, an all-zero fluence on
// that grid, the grid's BEV conditioning, and the MU scale of the normalised fluence.
struct BevPlanStart {
  FluencePlan plan;
  BevConditioning conditioning;
  double mu_per_unit = 0;  // plan MU (all fractions) per control point at x = 1 (fmd_dataset.h)
  double conditioning_seconds = 0;
};
BevPlanStart start_bev_plan(const FluenceStageContext& context);

// The FMD start of a refiner (docs/l2plan.md): the "fmd" generator's fluence (the student,
// noise seed `seed`, model folder `weights_dir`, "" = models/fmd) for the plan of `refine`,
// made with the same plan options and scaled so that the target's mean dose is the
// prescription (scale_to_target_mean, as every refiner start in generate); what `train
// l2plan --start fmd` and `bench_refiner --start fmd` start from. ProcessingError when the
// generator's geometry or grid is not the refine case's.
FluenceMaps fmd_refine_start(const Patient& patient, const Protocol& protocol, const Machine& machine,
                             const StructureRoles& roles, const ClassicalPlanOptions& plan,
                             const RefineCase& refine, const std::string& weights_dir, uint64_t seed);

}  // namespace vmatplan
