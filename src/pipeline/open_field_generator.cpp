// The "open-field" baseline generator (open_field_generator.h).
#include "vmatplan/pipeline/open_field_generator.h"

#include <chrono>

#include "vmatplan/core/error.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/pipeline/fmd_generator.h"

namespace vmatplan {
namespace {

class OpenFieldGenerator : public FluenceGenerator {
 public:
  FluencePlan generate(const FluenceStageContext& c) override {
    const auto t0 = std::chrono::steady_clock::now();
    BevPlanStart start = start_bev_plan(c);
    FluencePlan out = std::move(start.plan);
    const BevConditioning& cond = start.conditioning;
    size_t open_bixels = 0;
    for (int cp = 0; cp < cond.control_points; ++cp)
      for (int r = 0; r < cond.rows; ++r)
        for (int b = 0; b < cond.bixels; ++b)
          if (cond.at(cp, kChannelTarget, r, b) > kOpenFieldCoverage) {
            out.fluence.at(cp, r, b) = 1.0f;
            ++open_bixels;
          }
    if (open_bixels == 0) throw ProcessingError("open-field: the target covers no bixel by more than half");
    if (c.progress) c.progress(0.3);
    // Normalised here, as the classical generator does: dose is linear in the constant, so
    // one dose of the unit field gives it. (Left to `generate`, an open field below the
    // prescription would stay there without the meterset stage: the final renormalisation
    // cannot raise MU at the machine's maximum dose rate.) The engine is kept for the
    // meterset stage.
    DoseEngineOptions eo;
    eo.dose_spacing_mm = c.options.dose_spacing_mm;
    auto engine = std::make_shared<const PencilBeamEngine>(c.patient, c.machine, out.geometry, out.fluence.grid, eo);
    const double scale = normalisation_scale(c.patient, engine->dose_image(out.fluence), c.protocol, c.roles);
    if (!(scale > 0)) throw ProcessingError("open-field: the open field gives no dose to normalise");
    const float open = static_cast<float>(scale);
    for (float& v : out.fluence.values) v *= open;
    out.engine = std::move(engine);
    out.info = {{"generator", "open-field"},
                {"method", "open field on the target's beam's-eye-view projection (baseline)"},
                {"open_rule", "target coverage > coverage_threshold"},
                {"coverage_threshold", kOpenFieldCoverage},
                {"open_fluence_mu", open},
                {"open_fluence_normalised", open / start.mu_per_unit},  // x (fmd_dataset.h)
                {"open_bixels", open_bixels},
                {"bixels", out.fluence.values.size()},
                {"target_structure", cond.sources[kChannelTarget]},
                {"conditioning_seconds", start.conditioning_seconds},
                {"generation_seconds",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
    return out;
  }
};

}  // namespace

std::unique_ptr<FluenceGenerator> make_open_field_generator() { return std::make_unique<OpenFieldGenerator>(); }

}  // namespace vmatplan
