// Built-in fluence stages and their registry.
#include "vmatplan/pipeline/fluence_stages.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "vmatplan/core/error.h"
#include "vmatplan/pipeline/fmd_generator.h"
#include "vmatplan/pipeline/open_field_generator.h"

namespace vmatplan {
namespace {

// The classical optimizer as a generator: its normalised fluence and what it did.
class ClassicalGenerator : public FluenceGenerator {
 public:
  FluencePlan generate(const FluenceStageContext& c) override {
    ClassicalPlanOptions opt = c.options;
    const int max_iter = std::max(1, opt.optimizer.max_iterations);
    auto user = opt.optimizer.progress;
    auto stage_progress = c.progress;
    opt.optimizer.progress = [user, stage_progress, max_iter](const IterationRecord& r) {
      if (user) user(r);
      if (stage_progress) stage_progress(std::min(0.99, double(r.iteration) / max_iter));
    };
    ClassicalPlan p = make_classical_plan(c.patient, c.protocol, c.machine, c.roles, opt);
    FluencePlan out;
    out.geometry = std::move(p.geometry);
    out.fluence = std::move(p.fluence);
    out.engine = std::move(p.engine);
    out.info = {{"generator", "classical"},
                {"method", "projected L-BFGS fluence optimisation + protocol normalisation"},
                {"iterations", p.optimization.iterations},
                {"stop_reason", p.optimization.stop_reason},
                {"normalisation_scale", p.normalisation_scale},
                {"engine_setup_seconds", p.engine_setup_seconds},
                {"optimization_seconds", p.optimization.seconds},
                {"goals_passed_fluence_level", p.evaluation.goals_passed()},
                {"goals_failed_fluence_level", p.evaluation.goals_failed()},
                {"skipped_objectives", p.skipped_objectives}};
    return out;
  }
};

// The default generator: the FMD student where it can plan the patient (shipped weights,
// the plan's fluence grid on its canvas), else the classical optimiser; which one and why
// go to summary.json ("fluence_stage": generator, generator_choice) and the log.
class AutoGenerator : public FluenceGenerator {
 public:
  FluencePlan generate(const FluenceStageContext& c) override {
    const std::string why_not = fmd_student_unavailable_reason(c);
    if (!why_not.empty()) spdlog::info("generator auto: classical optimiser, as {}", why_not);
    FluencePlan out = why_not.empty() ? make_fmd_generator(FmdGeneratorKind::kStudent)->generate(c)
                                      : ClassicalGenerator().generate(c);
    const std::string weights =
        c.learned.weights_dir.empty() ? std::string("shipped weights") : "weights " + c.learned.weights_dir;
    out.info["generator_choice"] = why_not.empty() ? "auto: the FMD student (" + weights + ", grid on its canvas)"
                                                   : "auto: the classical optimiser, as " + why_not;
    return out;
  }
};

// An earlier plan's fluence as the start (generate --from): nothing is optimised here; the
// refiner re-plans it for the current protocol.
class StartPlanGenerator : public FluenceGenerator {
 public:
  FluencePlan generate(const FluenceStageContext& c) override {
    if (!c.start_plan) throw UsageError("generator 'plan' needs a fluence plan (--from PLAN)");
    const PlanFile& plan = *c.start_plan;
    FluencePlan out;
    out.geometry = plan.geometry;
    out.fluence = plan.fluence;
    out.info = {{"generator", "plan"},
                {"method", "the fluence of an earlier plan (generate --from)"},
                {"from", c.start_plan_path}};
    if (plan.extra.contains("protocol")) out.info["from_protocol"] = plan.extra["protocol"];
    return out;
  }
};

class NoRefiner : public FluenceRefiner {
 public:
  FluencePlan refine(const FluenceStageContext&, FluencePlan plan) override {
    plan.info["refiner"] = "none";
    return plan;
  }
};

template <class Factory>
struct Registry {
  std::mutex mutex;
  std::map<std::string, Factory> factories;
};

Registry<FluenceGeneratorFactory>& generators() {
  static Registry<FluenceGeneratorFactory> r{
      {},
      {{"auto", [] { return std::make_unique<AutoGenerator>(); }},
       {"classical", [] { return std::make_unique<ClassicalGenerator>(); }},
       {"fmd", [] { return make_fmd_generator(FmdGeneratorKind::kStudent); }},
       {"fmd-teacher", [] { return make_fmd_generator(FmdGeneratorKind::kTeacher); }},
       {"fmd-regression", [] { return make_fmd_generator(FmdGeneratorKind::kRegression); }},
       {"open-field", [] { return make_open_field_generator(); }},
       {"plan", [] { return std::make_unique<StartPlanGenerator>(); }}}};
  return r;
}

Registry<FluenceRefinerFactory>& refiners() {
  static Registry<FluenceRefinerFactory> r{{}, {{"none", [] { return std::make_unique<NoRefiner>(); }}}};
  return r;
}

template <class Factory>
std::vector<std::string> names_of(Registry<Factory>& r) {
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, f] : r.factories) names.push_back(name);
  return names;  // std::map: already sorted
}

template <class Factory>
auto make_from(Registry<Factory>& r, const std::string& name, const char* what) {
  Factory f;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) f = it->second;
  }
  if (!f) {
    std::string list;
    for (const std::string& n : names_of(r)) list += (list.empty() ? "" : ", ") + n;
    throw UsageError(std::string("unknown ") + what + " '" + name + "' (available: " + list + ")");
  }
  return f();
}

}  // namespace

PlanFile load_start_plan(const std::string& path, const Patient& patient, const std::string& machine_name) {
  namespace fs = std::filesystem;
  const std::string file = fs::is_directory(path) ? (fs::path(path) / kFluencePlanFileName).string() : path;
  if (!fs::exists(file))
    throw InputError(file, "no fluence plan here (generate writes fluence.json into every plan folder)");
  PlanFile plan = load_plan(file);
  const std::string kind = plan.extra.value("kind", "");
  if (kind != "fluence plan")
    throw InputError(file, "not a fluence plan (a delivery's plan.json cannot be re-planned; use the "
                            "folder's fluence.json)");
  const std::string planned_for = plan.extra.value("patient_id", "");
  if (!planned_for.empty() && planned_for != patient.identity.patient_id)
    throw InputError(file, "made for patient '" + planned_for + "', not '" + patient.identity.patient_id + "'");
  const std::string machine = plan.extra.value("machine", plan.machine_name);
  if (machine != machine_name)
    throw InputError(file, "made for machine '" + machine + "', not '" + machine_name + "'");
  // load_plan has matched the fluence to the geometry; a plan without fluence is left.
  if (plan.fluence.control_point_count < 1) throw InputError(file, "holds no fluence to start from");
  return plan;
}

void register_fluence_generator(const std::string& name, FluenceGeneratorFactory factory) {
  std::lock_guard<std::mutex> lock(generators().mutex);
  generators().factories[name] = std::move(factory);
}

void register_fluence_refiner(const std::string& name, FluenceRefinerFactory factory) {
  std::lock_guard<std::mutex> lock(refiners().mutex);
  refiners().factories[name] = std::move(factory);
}

std::vector<std::string> fluence_generator_names() { return names_of(generators()); }
std::vector<std::string> fluence_refiner_names() { return names_of(refiners()); }

std::unique_ptr<FluenceGenerator> make_fluence_generator(const std::string& name) {
  return make_from(generators(), name, "generator");
}

std::unique_ptr<FluenceRefiner> make_fluence_refiner(const std::string& name) {
  return make_from(refiners(), name, "refiner");
}

}  // namespace vmatplan
