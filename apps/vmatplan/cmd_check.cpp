// vmatplan check: is a plan deliverable on a machine? Lists every violated limit per
// control point (or as JSON) with the plan's complexity figures. Exit 0 when deliverable,
// 1 when not or on bad input.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "vmatplan/io/delivery_plan_io.h"
#include "vmatplan/sequence/complexity.h"
#include "vmatplan/sequence/deliverability.h"

namespace vmatplan::cli {
namespace {

struct CheckOptions {
  std::string plan;
  std::string machine;
  bool json = false;
};

int run_check(const CheckOptions& opt) {
  const DeliveryPlan plan = load_delivery_plan(opt.plan);
  std::string how;
  const Machine machine = resolve_machine(plan, opt.machine, how);
  spdlog::info("checking against machine {} ({})", machine.name, how);
  const auto violations = check_deliverability(plan, machine);
  const auto name_mismatches = machine_name_mismatches(plan, machine);
  const PlanComplexity cx = compute_complexity(plan, machine);
  if (opt.json) {
    nlohmann::json j = {{"plan", opt.plan},
                        {"machine", machine.name},
                        {"machine_chosen", how},
                        {"machine_dicom_name", machine.dicom_name},
                        {"machine_name_matches", name_mismatches.empty()},
                        {"machine_name_mismatches", name_mismatches},
                        {"deliverable", violations.empty()},
                        {"violations", violations_to_json(violations)},
                        {"complexity", complexity_to_json(cx)}};
    std::cout << j.dump(2) << "\n";
  } else {
    auto& o = std::cout;
    o << "plan      " << opt.plan << " (" << plan.beams.size() << " beams)\n";
    o << "machine   " << machine.name << " (" << how << "), DICOM name " << machine.dicom_name << "\n";
    char line[256];
    for (const auto& b : cx.beams) {
      size_t cps = 0;
      for (const auto& pb : plan.beams)
        if (pb.number == b.number) cps = pb.control_points.size();
      std::snprintf(line, sizeof line,
                    "beam %-3d %-16s %4zu cps %9.1f MU  %7.1f s  MCSv %.3f  SAS10 %.3f\n",
                    b.number, b.name.c_str(), cps, b.mu, b.delivery_time_s, b.mcsv, b.sas10);
      o << line;
    }
    std::snprintf(line, sizeof line, "total     %.1f MU per fraction, %.1f s beam-on, leaf travel %.0f mm\n",
                  cx.total_mu, cx.delivery_time_s, cx.leaf_travel_mm);
    o << line;
    for (const auto& v : violations) o << format_violation(v) << "\n";
    for (const auto& m : name_mismatches) o << "machine name mismatch: " << m << "\n";
    o << (violations.empty() ? "deliverable: yes\n"
                             : "deliverable: no (" + std::to_string(violations.size()) + " violations)\n");
  }
  return violations.empty() ? 0 : 1;
}

}  // namespace

Command register_check(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check", "Check a plan (RT Plan .dcm or sequenced PLAN.json) against a machine's limits");
  sub->add_option("plan", opt->plan, "RT Plan DICOM file, or a plan JSON written by `sequence`")
      ->required();
  sub->add_option("--machine", opt->machine,
                  "Machine config name (searched in $VMATPLAN_MACHINE_PATH, then configs/machines) "
                  "or path (default: the plan's TreatmentMachineName, else the config whose MLC "
                  "matches)");
  sub->add_flag("--json", opt->json, "Print the result as JSON");
  return {sub, [opt] { return run_check(*opt); }};
}

}  // namespace vmatplan::cli
