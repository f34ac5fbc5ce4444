// vmatplan water: a beam-model check in a water phantom (d_max, PDD, profile, penumbra,
// output factors, dose per MU), the figures a physicist compares with measured data.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/dose/water_phantom.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan::cli {
namespace {

struct WaterOptions {
  std::string machine = "generic_6mv_mlc120";
  std::string field = "100x100";
  double ssd_mm = 1000.0;
  double spacing_mm = 1.0;
  bool json = false;
};

void parse_field(const std::string& text, double& x, double& y) {
  char sep = 0;
  std::istringstream in(text);
  if (!(in >> x >> sep >> y) || (sep != 'x' && sep != 'X') || !in.eof() || !(x > 0) || !(y > 0))
    throw UsageError("--field: expected WIDTHxHEIGHT in mm, e.g. 100x100 (got '" + text + "')");
}

std::string key(double mm) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", mm);
  return buf;
}

int run_water(const WaterOptions& opt, const GlobalOptions& global) {
  set_dose_engine_threads(global.threads);
  WaterSetup s;
  parse_field(opt.field, s.field_x_mm, s.field_y_mm);
  s.ssd_mm = opt.ssd_mm;
  s.spacing_mm = opt.spacing_mm;
  if (!(s.ssd_mm > 500 && s.ssd_mm < 1500)) throw UsageError("--ssd: expected 500..1500 mm");
  Machine machine = Machine::load_named(opt.machine);
  WaterFigures w = measure_water(machine, s);

  if (opt.json) {
    nlohmann::json j;
    j["machine"] = machine.name;
    j["field_mm"] = {s.field_x_mm, s.field_y_mm};
    j["ssd_mm"] = s.ssd_mm;
    j["spacing_mm"] = s.spacing_mm;
    j["dmax_mm"] = w.dmax_mm;
    j["dose_per_mu_at_dmax_cgy"] = 100.0 * w.dose_per_mu_at_dmax_gy;
    j["pdd5_percent"] = w.pdd5_percent;
    j["pdd10_percent"] = w.pdd10_percent;
    j["pdd20_percent"] = w.pdd20_percent;
    j["profile_width_50_mm"] = w.profile_width_50_mm;
    j["profile_width_80_mm"] = w.profile_width_80_mm;
    j["penumbra_20_80_mm"] = w.penumbra_20_80_mm;
    j["output_factor_depth_mm"] = s.output_factor_depth_mm;
    nlohmann::json of = nlohmann::json::object();
    for (const auto& [f, v] : w.output_factors) of[key(f)] = v;
    j["output_factors"] = of;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("machine            %s\n", machine.name.c_str());
  std::printf("field              %g x %g mm at the isocentre, SSD %g mm, grid %g mm\n",
              s.field_x_mm, s.field_y_mm, s.ssd_mm, s.spacing_mm);
  std::printf("d_max              %.1f mm\n", w.dmax_mm);
  std::printf("dose at d_max      %.4f cGy/MU\n", 100.0 * w.dose_per_mu_at_dmax_gy);
  std::printf("PDD  5 cm          %.1f %%\n", w.pdd5_percent);
  std::printf("PDD 10 cm          %.1f %%\n", w.pdd10_percent);
  std::printf("PDD 20 cm          %.1f %%\n", w.pdd20_percent);
  std::printf("profile at 10 cm   width 50 %% %.1f mm, 80 %% %.1f mm, penumbra 20-80 %% %.1f mm\n",
              w.profile_width_50_mm, w.profile_width_80_mm, w.penumbra_20_80_mm);
  std::printf("output factors     (depth %g mm, relative to 100x100)\n", s.output_factor_depth_mm);
  for (const auto& [f, v] : w.output_factors) std::printf("  %5g x %-5g  %.3f\n", f, f, v);
  std::printf("depth dose (interpolated between voxel centres)\n");
  const auto& pdd = w.pdd_percent;
  for (double depth : {5.0, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0}) {
    for (size_t i = 1; i < pdd.size(); ++i)
      if (pdd[i].first >= depth && pdd[i - 1].first <= depth) {
        double t = (depth - pdd[i - 1].first) / (pdd[i].first - pdd[i - 1].first);
        std::printf("  %6.1f mm  %5.1f %%\n", depth, pdd[i - 1].second + t * (pdd[i].second - pdd[i - 1].second));
        break;
      }
  }
  return 0;
}

}  // namespace

Command register_water(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<WaterOptions>();
  CLI::App* sub = app.add_subcommand("water", "Beam-model check in a water phantom");
  sub->add_option("--field", opt->field, "Field size WIDTHxHEIGHT at the isocentre, mm")
      ->capture_default_str();
  sub->add_option("--ssd", opt->ssd_mm, "Source-surface distance, mm")->capture_default_str();
  sub->add_option("--spacing", opt->spacing_mm, "Phantom and dose grid spacing, mm")
      ->capture_default_str();
  sub->add_option("--machine", opt->machine, "Machine config name or path")->capture_default_str();
  sub->add_flag("--json", opt->json, "Print JSON instead of text");
  return {sub, [opt, &global] { return run_water(*opt, global); }};
}

}  // namespace vmatplan::cli
