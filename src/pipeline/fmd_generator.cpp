// The "fmd" and "fmd-teacher" fluence generators (fmd_generator.h).
#include "vmatplan/pipeline/fmd_generator.h"

#include <chrono>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/learn/fmd_canvas.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/pipeline/training_set.h"

namespace vmatplan {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// LibTorch runs on one thread in the pipeline (set_dose_engine_threads); the network's
// convolutions are the one place where more pay off, so they get vmatplan's thread count.
class TorchThreadsScope {
 public:
  explicit TorchThreadsScope(int n) : previous_(torch::get_num_threads()) { torch::set_num_threads(std::max(1, n)); }
  ~TorchThreadsScope() { torch::set_num_threads(previous_); }

 private:
  int previous_;
};

class FmdGenerator : public FluenceGenerator {
 public:
  explicit FmdGenerator(FmdGeneratorKind kind) : kind_(kind) {}

  FluencePlan generate(const FluenceStageContext& c) override {
    const auto t0 = Clock::now();
    const bool student = kind_ == FmdGeneratorKind::kStudent;
    const FmdNetworkRole role = student ? FmdNetworkRole::kStudent : FmdNetworkRole::kTeacher;
    const std::string dir = c.learned.weights_dir.empty() ? model_dir("fmd") : c.learned.weights_dir;
    const FmdCanvas canvas;
    LoadedFmdNetwork network = load_fmd_network(dir, student ? "student" : "teacher", kTrainingSetVersion, canvas);
    if (!student && c.learned.sampler_steps < 1) throw UsageError("--sampler-steps must be at least 1");

    const ClassicalPlanOptions& o = c.options;
    if (c.protocol.prescription.targets.empty())
      throw ProcessingError("protocol '" + c.protocol.name + "' has no target level");
    const std::string target_role = c.protocol.prescription.targets.front().role;
    const Structure& target = c.roles.resolve(c.patient, target_role);
    FluencePlan out;
    out.geometry = build_plan_geometry(c.patient, c.machine, o.arcs, target.name, o.jaw_margin_mm, {});
    const FluenceGrid grid = fluence_grid_for_plan(out.geometry, c.machine, o.bixel_width_mm);
    check_grid_on_canvas(canvas, grid);
    const auto t_cond = Clock::now();
    const BevConditioning cond =
        compute_bev_conditioning({c.patient, c.roles, target_role, out.geometry, grid, c.machine.sad_mm});
    const double conditioning_s = seconds_since(t_cond);
    if (c.progress) c.progress(0.5);

    const int fractions = std::max(1, c.protocol.prescription.fractions);
    const int cps = cond.control_points;
    const double mu_scale =
        fmd_fluence_scale_mu(c.protocol.prescription.total_dose_gy / fractions, cps) * fractions;
    out.fluence.grid = grid;
    out.fluence.control_point_count = cps;
    out.fluence.values.assign(static_cast<size_t>(cps) * grid.size_per_control_point(), 0.0f);
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
            fmd_sample_arc(network, role, condition, c.learned.seed * 1000003ULL + b, c.learned.sampler_steps);
        const std::vector<float> on_grid = canvas_to_grid(canvas, grid, x.data_ptr<float>(), n);
        for (size_t i = 0; i < on_grid.size(); ++i)
          out.fluence.values[first * plane + i] = static_cast<float>(on_grid[i] * mu_scale);
        first += n;
      }
    }
    const double network_s = seconds_since(t_net);
    out.info = {{"generator", student ? "fmd" : "fmd-teacher"},
                {"method", student ? "FMD student: one network evaluation per arc (DMD2-distilled)"
                                   : "FMD teacher: EDM Heun sampler"},
                {"weights_dir", dir},
                {"weights_file", network.weights_path},
                {"weights_sha256", network.weights_sha256},
                {"model_data_version", network.manifest.value("data_version", "")},
                {"fmd_seed", c.learned.seed},
                {"sampler_steps", student ? 1 : c.learned.sampler_steps},
                {"network_evaluations_per_arc", fmd_network_evaluations(role, c.learned.sampler_steps)},
                {"conditioning_seconds", conditioning_s},
                {"network_seconds", network_s},
                {"generation_seconds", seconds_since(t0)}};
    return out;
  }

 private:
  FmdGeneratorKind kind_;
};

}  // namespace

std::unique_ptr<FluenceGenerator> make_fmd_generator(FmdGeneratorKind kind) {
  return std::make_unique<FmdGenerator>(kind);
}

}  // namespace vmatplan
