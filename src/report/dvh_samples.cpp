#include "vmatplan/report/dvh_samples.h"

#include <cmath>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

double round_centi(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

std::vector<SampledDvh> sample_dvhs(const PlanEvaluation& e) {
  std::vector<SampledDvh> out;
  for (const auto& s : e.structures) {
    if (s.dvh.empty()) continue;
    SampledDvh d{s.name, s.role, s.color_rgb, s.dvh.volume_cc(), {}};
    for (int i = 0; i < kDvhSampleLevels; ++i)
      d.dose_gy.push_back(round_centi(s.dvh.dose_at_volume_pct(100.0 - i)));
    out.push_back(std::move(d));
  }
  return out;
}

nlohmann::json dvh_structures_json(const std::vector<SampledDvh>& dvhs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& d : dvhs)
    a.push_back({{"name", d.name}, {"role", d.role}, {"color_rgb", d.color_rgb},
                 {"volume_cc", std::round(d.volume_cc * 100.0) / 100.0}, {"dose_gy", d.dose_gy}});
  return a;
}

nlohmann::json dvh_samples_json(const std::vector<SampledDvh>& dvhs) {
  return {{"format", "vmatplan-dvh-samples-1"},
          {"volume_pct", "100 to 0, step 1: dose_gy[i] is the dose to the hottest (100 - i) %"},
          {"structures", dvh_structures_json(dvhs)}};
}

std::vector<SampledDvh> dvh_samples_from_json(const nlohmann::json& j, const std::string& source) {
  const nlohmann::json& a = j.is_object() && j.contains("structures") ? j["structures"] : j;
  if (!a.is_array()) throw InputError(source, "DVH samples: expected an array of structures");
  std::vector<SampledDvh> out;
  for (const auto& s : a) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string())
      throw InputError(source, "DVH samples: a structure without a name");
    SampledDvh d;
    d.name = s["name"].get<std::string>();
    d.role = s.value("role", "");
    d.volume_cc = s.value("volume_cc", 0.0);
    if (s.contains("color_rgb") && s["color_rgb"].is_array() && s["color_rgb"].size() == 3)
      for (int k = 0; k < 3; ++k) d.color_rgb[k] = static_cast<uint8_t>(s["color_rgb"][k].get<int>());
    const auto& doses = s.value("dose_gy", nlohmann::json::array());
    if (!doses.is_array() || doses.size() != kDvhSampleLevels)
      throw InputError(source, "DVH samples: '" + d.name + "' needs " + std::to_string(kDvhSampleLevels) +
                                   " dose_gy values");
    for (const auto& v : doses) {
      if (!v.is_number()) throw InputError(source, "DVH samples: '" + d.name + "' has a non-number dose");
      d.dose_gy.push_back(v.get<double>());
      if (d.dose_gy.size() > 1 && d.dose_gy.back() < d.dose_gy[d.dose_gy.size() - 2])
        throw InputError(source, "DVH samples: '" + d.name + "' doses must not decrease");
    }
    out.push_back(std::move(d));
  }
  return out;
}

DvhPlotCurve plot_curve(const SampledDvh& d) {
  DvhPlotCurve c{d.name, d.color_rgb, {{0.0, 100.0}}};
  for (size_t i = 0; i < d.dose_gy.size(); ++i) c.points.push_back({d.dose_gy[i], 100.0 - double(i)});
  return c;
}

}  // namespace vmatplan
