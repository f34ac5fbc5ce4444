// The "fmd", "fmd-teacher" and "fmd-regression" fluence generators (fmd_generator.h).
#include "vmatplan/pipeline/fmd_generator.h"

#include <chrono>
#include <filesystem>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/stopwatch.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/learn/fmd_canvas.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/pipeline/training_set.h"

namespace vmatplan {
namespace {

using Clock = SteadyClock;

// LibTorch runs on one thread in the pipeline (set_dose_engine_threads); the network's
// convolutions are the one place where more pay off, so they get vmatplan's thread count.
class TorchThreadsScope {
 public:
  explicit TorchThreadsScope(int n) : previous_(torch::get_num_threads()) { torch::set_num_threads(std::max(1, n)); }
  ~TorchThreadsScope() { torch::set_num_threads(previous_); }

 private:
  int previous_;
};

// What differs between the learned generators: the network, where it is shipped, the summary.
struct FmdGeneratorRole {
  FmdNetworkRole role;
  const char* network;    // the manifest's networks.NAME
  const char* model;      // the shipped model folder, models/NAME
  const char* generator;  // --generator NAME
  const char* method;
};

FmdGeneratorRole generator_role(FmdGeneratorKind kind) {
  switch (kind) {
    case FmdGeneratorKind::kStudent:
      return {FmdNetworkRole::kStudent, "student", "fmd", "fmd",
              "FMD student: one network evaluation per arc (DMD2-distilled)"};
    case FmdGeneratorKind::kTeacher:
      return {FmdNetworkRole::kTeacher, "teacher", "fmd", "fmd-teacher", "FMD teacher: EDM Heun sampler"};
    case FmdGeneratorKind::kRegression:
      break;
  }
  return {FmdNetworkRole::kRegression, "regression", "fmd-regression", "fmd-regression",
          "regression baseline: one network evaluation per arc, no noise (plain squared-error training)"};
}

class FmdGenerator : public FluenceGenerator {
 public:
  explicit FmdGenerator(FmdGeneratorKind kind) : kind_(kind) {}

  FluencePlan generate(const FluenceStageContext& c) override {
    const auto t0 = Clock::now();
    const FmdGeneratorRole which = generator_role(kind_);
    const bool teacher = which.role == FmdNetworkRole::kTeacher;
    const std::string dir = c.learned.weights_dir.empty() ? model_dir(which.model) : c.learned.weights_dir;
    const FmdCanvas canvas;
    LoadedFmdNetwork network = load_fmd_network(dir, which.network, kTrainingSetVersion, canvas);
    if (teacher && c.learned.sampler_steps < 1) throw UsageError("--sampler-steps must be at least 1");

    BevPlanStart start = start_bev_plan(c);
    check_grid_on_canvas(canvas, start.plan.fluence.grid);
    if (c.progress) c.progress(0.5);
    FluencePlan out = std::move(start.plan);
    const FluenceGrid& grid = out.fluence.grid;
    const BevConditioning& cond = start.conditioning;
    const size_t plane = static_cast<size_t>(grid.size_per_control_point());
    const auto t_net = Clock::now();
    {
      TorchThreadsScope threads(thread_count());
      int first = 0;
      for (size_t b = 0; b < out.geometry.beams.size(); ++b) {
        const auto& cp = out.geometry.beams[b].control_points;
        const int n = static_cast<int>(cp.size());
        std::vector<float> gantry;
        for (const auto& g : cp) gantry.push_back(static_cast<float>(g.gantry_deg));
        const torch::Tensor condition = fmd_condition_on_canvas(
            canvas, grid, cond.values.data() + static_cast<size_t>(first) * cond.channels * plane, gantry.data(), n);
        // One noise stream per arc, from the seed and the arc's index.
        const torch::Tensor x =
            fmd_sample_arc(network, which.role, condition, c.learned.seed * 1000003ULL + b, c.learned.sampler_steps);
        const std::vector<float> on_grid = canvas_to_grid(canvas, grid, x.data_ptr<float>(), n);
        for (size_t i = 0; i < on_grid.size(); ++i)
          out.fluence.values[first * plane + i] = static_cast<float>(on_grid[i] * start.mu_per_unit);
        first += n;
      }
    }
    const double network_s = seconds_since(t_net);
    out.info = {{"generator", which.generator},
                {"method", which.method},
                {"weights_dir", dir},
                {"weights_file", network.weights_path},
                {"weights_sha256", network.weights_sha256},
                {"model_data_version", network.manifest.value("data_version", "")},
                {"fmd_seed", which.role == FmdNetworkRole::kRegression ? nlohmann::json() : nlohmann::json(c.learned.seed)},
                {"sampler_steps", teacher ? c.learned.sampler_steps : 1},
                {"network_evaluations_per_arc", fmd_network_evaluations(which.role, c.learned.sampler_steps)},
                {"conditioning_seconds", start.conditioning_seconds},
                {"network_seconds", network_s},
                {"generation_seconds", seconds_since(t0)}};
    return out;
  }

 private:
  FmdGeneratorKind kind_;
};

// The plan geometry and fluence grid as the classical planner makes them (isocentre at the
// target, jaws fitted): where start_bev_plan starts, and what the canvas check looks at.
struct PlanFrame {
  std::string target_role;
  PlanGeometry geometry;
  FluenceGrid grid;
};

PlanFrame plan_frame(const FluenceStageContext& c) {
  const ClassicalPlanOptions& o = c.options;
  if (c.protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + c.protocol.name + "' has no target level");
  PlanFrame f;
  f.target_role = c.protocol.prescription.targets.front().role;
  const Structure& target = c.roles.resolve(c.patient, f.target_role);
  f.geometry = build_plan_geometry(c.patient, c.machine, o.arcs, target.name, o.jaw_margin_mm, {});
  f.grid = fluence_grid_for_plan(f.geometry, c.machine, o.bixel_width_mm);
  return f;
}

}  // namespace

BevPlanStart start_bev_plan(const FluenceStageContext& c) {
  PlanFrame frame = plan_frame(c);
  BevPlanStart s;
  const auto t_cond = Clock::now();
  s.conditioning = compute_bev_conditioning(
      {c.patient, c.roles, frame.target_role, frame.geometry, frame.grid, c.machine.sad_mm});
  s.conditioning_seconds = seconds_since(t_cond);
  const int fractions = std::max(1, c.protocol.prescription.fractions);
  const int cps = s.conditioning.control_points;
  s.mu_per_unit = fmd_fluence_scale_mu(c.protocol.prescription.total_dose_gy / fractions, cps) * fractions;
  s.plan.geometry = std::move(frame.geometry);
  s.plan.fluence.grid = std::move(frame.grid);
  s.plan.fluence.control_point_count = cps;
  s.plan.fluence.values.assign(static_cast<size_t>(cps) * s.plan.fluence.grid.size_per_control_point(), 0.0f);
  return s;
}

std::string fmd_student_unavailable_reason(const FluenceStageContext& c) {
  // Weights the user named are used (a wrong folder is then an error naming it); only the
  // shipped folder's absence (an install without models/) is a reason.
  const std::string shipped = model_dir(generator_role(FmdGeneratorKind::kStudent).model);
  if (c.learned.weights_dir.empty() && !std::filesystem::is_regular_file(shipped + "/manifest.json"))
    return "no shipped FMD model at " + shipped;
  // start_bev_plan's grid, without the conditioning (milliseconds).
  const PlanFrame frame = plan_frame(c);
  try {
    check_grid_on_canvas(FmdCanvas{}, frame.grid);
  } catch (const ProcessingError& e) {
    return std::string("the plan's fluence grid is not on the FMD canvas (") + e.what() + ")";
  }
  return "";
}

FluenceMaps fmd_refine_start(const Patient& patient, const Protocol& protocol, const Machine& machine,
                             const StructureRoles& roles, const ClassicalPlanOptions& plan,
                             const RefineCase& refine, const std::string& weights_dir, uint64_t seed) {
  FluenceStageContext context{patient, protocol, machine, roles, plan, {}};
  context.learned.weights_dir = weights_dir;
  context.learned.seed = seed;
  FluencePlan f = FmdGenerator(FmdGeneratorKind::kStudent).generate(context);
  const FluenceGrid& a = f.fluence.grid;
  const FluenceGrid& b = refine.grid;
  const bool same_grid = a.first_leaf_pair == b.first_leaf_pair && a.row_edges_mm == b.row_edges_mm &&
                         a.bixel_width_mm == b.bixel_width_mm && a.x_min_mm == b.x_min_mm &&
                         a.bixel_count == b.bixel_count;
  if (!same_grid || f.fluence.control_point_count != refine.conformal_start.control_point_count ||
      f.geometry.beams.size() != refine.geometry.beams.size())
    throw ProcessingError("FMD start: the generator's plan geometry or fluence grid differs from the refiner's");
  scale_to_target_mean(f.fluence, patient, protocol, roles, *refine.engine);
  return std::move(f.fluence);
}

std::unique_ptr<FluenceGenerator> make_fmd_generator(FmdGeneratorKind kind) {
  return std::make_unique<FmdGenerator>(kind);
}

}  // namespace vmatplan
