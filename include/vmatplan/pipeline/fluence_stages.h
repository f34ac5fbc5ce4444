#pragma once
// The fluence stages of `generate`, behind two small interfaces so that learned stages
// (a one-step generator, an LSTM refiner) can be dropped in by name without touching the
// pipeline:
//
//   auto gen = make_fluence_generator("classical");   // UsageError lists the known names
//   FluencePlan f = gen->generate(context);
//   f = make_fluence_refiner("none")->refine(context, std::move(f));
//
// Built in: generator "auto" (the default: "fmd" where the FMD student can plan the patient,
// else "classical"; fmd_student_unavailable_reason), generator "classical"
// (make_classical_plan: geometry, engine, projected L-BFGS, normalisation), generators "fmd" (the one-step FMD student), "fmd-teacher" (its
// EDM teacher) and "fmd-regression" (the regression baseline; pipeline/fmd_generator.h,
// docs/fmd.md), the baseline "open-field" (pipeline/open_field_generator.h), generator
// "plan" (the fluence plan of an earlier run, context.start_plan: re-planning with changed
// objectives, `generate --from`), and refiner "none" (passes the plan through). Others
// register a factory with register_fluence_generator / register_fluence_refiner at start-up.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {

// Options of the learned generators ("fmd", "fmd-teacher", "fmd-regression":
// pipeline/fmd_generator.h); the other generators ignore them.
struct LearnedGeneratorOptions {
  std::string weights_dir;  // model folder; "" = the shipped models/fmd or models/fmd-regression
                            // (core/config_path.h)
  uint64_t seed = 0;        // noise seed: the same seed gives the same plan, another another
                            // (fmd-regression has no noise)
  int sampler_steps = 18;   // fmd-teacher: EDM Heun steps (2 N - 1 network evaluations)
};

// Everything a fluence stage may read. Stages never write files.
struct FluenceStageContext {
  const Patient& patient;
  const Protocol& protocol;
  const Machine& machine;
  const StructureRoles& roles;
  const ClassicalPlanOptions& options;  // arcs, bixel, optimisation grid, seed, optimizer
  std::function<void(double fraction)> progress;  // 0..1 within the stage; may be empty
  LearnedGeneratorOptions learned = {};
  // Generator "plan": the fluence plan of an earlier run (load_start_plan) and where it
  // was read from.
  std::shared_ptr<const PlanFile> start_plan = {};
  std::string start_plan_path = {};
};

// The fluence plan `generate` writes beside the delivery (OUT/fluence.json + .safetensors):
// geometry and fluence after the refiner, before leaf sequencing, what `--from` starts from.
inline constexpr const char* kFluencePlanFileName = "fluence.json";

// Reads the fluence plan of `path` (a plan folder or a JSON file) for this patient and
// machine: InputError naming the file when it is unreadable, made for another patient (by
// patient ID) or machine, or its fluence does not fit its geometry.
PlanFile load_start_plan(const std::string& path, const Patient& patient, const std::string& machine_name);

// A fluence-level plan: geometry plus fluence maps (MU, all fractions) on its grid.
struct FluencePlan {
  PlanGeometry geometry;
  FluenceMaps fluence;
  nlohmann::json info = nlohmann::json::object();  // what the stage did, for summary.json
  // The engine on (geometry, fluence grid, context.options.dose_spacing_mm), when the stage
  // built one; a refiner that changes the geometry or grid must reset it.
  std::shared_ptr<const PencilBeamEngine> engine;
};

class FluenceGenerator {
 public:
  virtual ~FluenceGenerator() = default;
  virtual FluencePlan generate(const FluenceStageContext& context) = 0;
};

class FluenceRefiner {
 public:
  virtual ~FluenceRefiner() = default;
  virtual FluencePlan refine(const FluenceStageContext& context, FluencePlan plan) = 0;
};

using FluenceGeneratorFactory = std::function<std::unique_ptr<FluenceGenerator>()>;
using FluenceRefinerFactory = std::function<std::unique_ptr<FluenceRefiner>()>;

// Registering an existing name replaces it.
void register_fluence_generator(const std::string& name, FluenceGeneratorFactory factory);
void register_fluence_refiner(const std::string& name, FluenceRefinerFactory factory);
std::vector<std::string> fluence_generator_names();  // sorted
std::vector<std::string> fluence_refiner_names();    // sorted
// UsageError "unknown generator 'x' (available: classical)" for an unknown name.
std::unique_ptr<FluenceGenerator> make_fluence_generator(const std::string& name);
std::unique_ptr<FluenceRefiner> make_fluence_refiner(const std::string& name);

}  // namespace vmatplan
