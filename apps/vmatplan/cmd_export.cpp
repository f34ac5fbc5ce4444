// vmatplan export: a deliverable plan (PLAN2.json or RT Plan) as DICOM RT Plan for a patient
// (identity, frame of reference and RTSTRUCT taken from the patient), plus an RT Dose when a
// dose image (Gy) is given. Everything is written to a staged folder and checked with the
// project's RT Plan validator before it is renamed into place.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/evaluation/dose_checks.h"
#include "vmatplan/io/delivery_plan_io.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/io/rtdose_writer.h"
#include "vmatplan/io/rtplan_validator.h"
#include "vmatplan/io/rtplan_writer.h"
#include "vmatplan/sequence/deliverability.h"

namespace vmatplan::cli {
namespace {

struct ExportOptions {
  std::string patient;
  std::string plan;
  std::string out;
  std::string dose;
  std::string machine;  // "" = the plan's machine (as `check` chooses it)
  bool overwrite = false;
};

int run_export(const ExportOptions& opt) {
  check_output_separate("--out", opt.out, {{"--patient", opt.patient}, {"--plan", opt.plan},
                                           {"--dose", opt.dose}});
  StagedOutput out(opt.out, StagedOutput::Kind::kDirectory, opt.overwrite);
  DeliveryPlan plan = load_delivery_plan(opt.plan);
  // Never export what `check` rejects.
  std::string how;
  const Machine machine = resolve_machine(plan, opt.machine, how);
  const auto violations = check_deliverability(plan, machine);
  if (!violations.empty())
    throw InputError(opt.plan, "not deliverable on machine " + machine.name + " (" +
                                   std::to_string(violations.size()) + " violations; see `vmatplan check`), first: " +
                                   format_violation(violations.front()));
  // The plan is written for the machine it was checked against, under that machine's
  // DICOM name (a config name can be longer than TreatmentMachineName's 16 characters).
  for (auto& b : plan.beams) b.machine_name = machine.dicom_name;
  const Patient patient = load_patient(opt.patient);
  plan.identity = patient.identity;
  plan.patient_position = patient.identity.patient_position;
  plan.sop_instance_uid = make_uid();
  for (auto& b : plan.beams)
    if (b.isocenter_mm == Vec3{0, 0, 0}) spdlog::warn("beam '{}' has its isocentre at the origin", b.name);
  CtImage dose;
  if (!opt.dose.empty()) {
    dose = read_image_float(opt.dose);
    validate_dose_image(dose, opt.dose);
  }

  const std::string rp = out.path() + "/RP.dcm";
  write_rtplan(plan, rp);
  const auto problems = validate_rtplan_file(rp);
  if (!problems.empty())
    throw ProcessingError("exported RT Plan fails validation (" + std::to_string(problems.size()) +
                          " problems), first: " + problems.front());
  if (!opt.dose.empty()) write_rtdose(dose, plan, out.path() + "/RD.dcm");
  out.commit();
  std::cout << "wrote " << opt.out << "/RP.dcm" << (opt.dose.empty() ? "" : " and RD.dcm") << "\n";
  return 0;
}

}  // namespace

Command register_export(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a deliverable plan as DICOM RT Plan (+ RT Dose)");
  sub->add_option("--patient", opt->patient, "Patient the plan is for (DICOM folder, image folder, .mat)")
      ->required();
  sub->add_option("--plan", opt->plan, "Deliverable plan: PLAN2.json from `sequence`, or an RT Plan")
      ->required();
  sub->add_option("--out", opt->out, "Output folder (RP.dcm, RD.dcm)")->required();
  sub->add_option("--dose", opt->dose, "Dose image in Gy (NIfTI/MHA/NRRD) to write as RT Dose");
  sub->add_option("--machine", opt->machine,
                  "Machine config the plan must be deliverable on (default: as `check` chooses)");
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing output folder");
  return {sub, [opt] { return run_export(*opt); }};
}

}  // namespace vmatplan::cli
