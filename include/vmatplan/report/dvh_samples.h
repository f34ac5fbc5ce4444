#pragma once
// A plan's DVHs, sampled compactly for files: per structure the dose (Gy, 0.01 Gy
// precision) at each volume level 100 %, 99 %, ..., 0 % (D100 = minimum, D0 = maximum).
// `generate` writes them as dvh.json beside summary.json; the regression harness keeps the
// expected plans' curves in the same form (docs/regression.md).
//
//   nlohmann::json j = dvh_samples_json(sample_dvhs(evaluation));
//   std::vector<SampledDvh> back = dvh_samples_from_json(j, "dvh.json");
//   DvhPlotCurve c = plot_curve(back[0]);
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/report/dvh_svg.h"

namespace vmatplan {

constexpr int kDvhSampleLevels = 101;  // volume 100 % down to 0 % in steps of 1 %

struct SampledDvh {
  std::string name;
  std::string role;  // "" when none
  std::array<uint8_t, 3> color_rgb{255, 0, 0};
  double volume_cc = 0.0;
  std::vector<double> dose_gy;  // kDvhSampleLevels values: D100%, D99%, ..., D0%
};

// Every structure with a non-empty DVH.
std::vector<SampledDvh> sample_dvhs(const PlanEvaluation& evaluation);

// {"format": "vmatplan-dvh-samples-1", "volume_pct": "100 to 0, step 1",
//  "structures": [{name, role, color_rgb, volume_cc, dose_gy[101]}]}
nlohmann::json dvh_samples_json(const std::vector<SampledDvh>& dvhs);
// The "structures" array alone (no header); compact form used inside other files.
nlohmann::json dvh_structures_json(const std::vector<SampledDvh>& dvhs);
// Reads either form (object with "structures", or the array); InputError naming `source`
// on a malformed entry (missing name, not 101 ascending doses).
std::vector<SampledDvh> dvh_samples_from_json(const nlohmann::json& j, const std::string& source);

// The curve for render_dvh_curves_svg: (0, 100 %), then (D_v, v) for v = 100 ... 0.
DvhPlotCurve plot_curve(const SampledDvh& dvh);

}  // namespace vmatplan
