#pragma once
// The stages of `generate` (generate.h) that turn a fluence plan into a delivery, as
// library calls: generate_plan runs them, and benchmarks run them to see what a
// generator's fluence becomes once deliverable, without writing a plan folder.
//
//   ClassicalPlanOptions fo = fluence_stage_options(options);        // what the generator gets
//   SequencerOptions so = sequencer_stage_options(options, protocol, target.name);
//   SequencedPlan s = sequence_arcs(fluence_plan_file, machine, so);  // "sequence"
//   DeliveryOptimisation d = optimise_delivery(s.plan, fluence, {patient, protocol, roles},
//                                              machine, options);       // "aperture" / "meterset"
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/pipeline/generate.h"

namespace vmatplan {

// options.fluence with options.arcs parsed into it (when given) and the fluence stage's MU
// priced for the sequencer that will deliver its maps. UsageError for a bad arc.
ClassicalPlanOptions fluence_stage_options(const GenerateOptions& options);

// options.sequencer with the method, the protocol's fractions (the option's when the
// protocol has none), its prescription and the target's structure name.
SequencerOptions sequencer_stage_options(const GenerateOptions& options, const Protocol& protocol,
                                         const std::string& target_name);

// The optimisation grid's engine (options.fluence.dose_spacing_mm) over the fluence plan's
// geometry and grid: the fluence stage's when it made one, else a new one.
std::shared_ptr<const PencilBeamEngine> optimisation_engine(const FluencePlan& fluence, const Patient& patient,
                                                            const Machine& machine, const GenerateOptions& options);

// DAO's iteration limit: options.aperture_max_iterations when set (>= 0), else 15 when
// `fluence` is the FMD student's and 25 otherwise. From the student's fluence 15 kept
// every goal of 10 validation phantoms (seeds 20000-20009) with 16 evaluations instead of
// 28 and rectum V-metrics within a point or so; from the classical fluence 15 lost a goal
// on regression_small (docs/sequencing.md).
int dao_iteration_limit(const GenerateOptions& options, const FluencePlan& fluence);

struct DeliveryOptimisation {
  DeliveryPlan plan;          // optimised when applied, else the sequenced plan unchanged
  bool applied = false;       // false: off (--no-meterset) or the result was not deliverable
  // The goals on the optimisation grid, normalised; empty unless applied. The direct
  // aperture optimisation leaves them to optimised_goals() and keeps its dose instead.
  PlanEvaluation evaluation;
  DoseImage dose;  // that dose (direct aperture optimisation, applied), else empty
  nlohmann::json info = {{"status", "off"}};  // summary.json "meterset_reoptimization"
};

// The goals of an applied optimisation on its grid: `evaluation`, or the evaluation of its
// `dose` (made once, here, and kept). Empty when nothing was applied.
const PlanEvaluation& optimised_goals(DeliveryOptimisation& optimised, const MetersetPlanContext& context);

// Direct aperture optimisation of leaves and MU ("apertures"), or the sweep's MU
// re-optimisation, with the protocol's normalisation, on the optimisation grid: the
// fluence stage's engine when it made one, else a new one at options.fluence.dose_spacing_mm.
// Nothing is done when options.meterset is off.
DeliveryOptimisation optimise_delivery(const DeliveryPlan& sequenced, const FluencePlan& fluence,
                                       const MetersetPlanContext& context, const Machine& machine,
                                       const GenerateOptions& options);

}  // namespace vmatplan
