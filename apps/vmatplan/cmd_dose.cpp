// vmatplan dose: the pencil-beam dose of a plan's fluence on a patient, written as an
// image (NIfTI .nii/.nii.gz, MetaImage .mha/.mhd, NRRD) in Gy on an isotropic grid.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan::cli {
namespace {
namespace fs = std::filesystem;

struct DoseCommandOptions {
  std::string patient;
  std::string plan;
  std::string out;
  std::string machine;       // "" = the plan's machine
  double spacing_mm = 2.5;   // final dose; optimization uses 5 mm
};

// The image writer picks the format from the extension, so the staged file keeps it.
std::string image_extension(const std::string& path) {
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e(ext);
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return e;
  }
  throw UsageError("--out: expected a .nii.gz, .nii, .mha, .mhd or .nrrd file name (got '" + path + "')");
}

int run_dose(const DoseCommandOptions& opt, const GlobalOptions& global) {
  set_dose_engine_threads(global.threads);
  const std::string ext = image_extension(opt.out);
  PlanFile plan = load_plan(opt.plan);
  if (plan.fluence.control_point_count == 0 || plan.fluence.values.empty())
    throw InputError(opt.plan, "plan has no fluence to compute dose from");
  Machine machine = Machine::load_named(opt.machine.empty() ? plan.machine_name : opt.machine);
  Patient patient = load_patient(opt.patient);

  DoseEngineOptions eo;
  eo.dose_spacing_mm = opt.spacing_mm;
  PencilBeamEngine engine(patient, machine, plan.geometry, plan.fluence.grid, eo);
  spdlog::info("dose engine set-up {:.1f} s: {} voxels, {} control points, {} ray entries",
               engine.setup_seconds(), engine.compute_voxels().size(),
               engine.control_point_count(), engine.entry_count());
  Image3D<float> dose = engine.dose_image(plan.fluence);

  StagedOutput out(opt.out, StagedOutput::Kind::kFile);
  const std::string staged = out.path() + ext;
  try {
    write_image(dose, staged);
    fs::rename(staged, out.path());
  } catch (...) {
    std::error_code ec;
    fs::remove(staged, ec);
    throw;
  }
  out.commit();

  double max_gy = 0, sum_gy = 0;
  for (int64_t v : engine.compute_voxels()) {
    max_gy = std::max<double>(max_gy, dose.voxels[v]);
    sum_gy += dose.voxels[v];
  }
  std::printf("wrote %s: grid %lld x %lld x %lld at %g mm, max %.3f Gy, body mean %.3f Gy\n",
              opt.out.c_str(), (long long)dose.grid.size[0], (long long)dose.grid.size[1],
              (long long)dose.grid.size[2], opt.spacing_mm, max_gy,
              engine.compute_voxels().empty() ? 0.0 : sum_gy / engine.compute_voxels().size());
  return 0;
}

}  // namespace

Command register_dose(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<DoseCommandOptions>();
  CLI::App* sub = app.add_subcommand("dose", "Pencil-beam dose of a plan's fluence on a patient");
  sub->add_option("--patient", opt->patient, "DICOM folder, image folder or matRad .mat")->required();
  sub->add_option("--plan", opt->plan, "Plan file (PLAN.json beside PLAN.safetensors)")->required();
  sub->add_option("--out", opt->out, "Dose image in Gy: .nii.gz, .nii, .mha, .mhd or .nrrd")->required();
  sub->add_option("--spacing", opt->spacing_mm, "Isotropic dose grid spacing, mm")->capture_default_str();
  sub->add_option("--machine", opt->machine, "Machine config name or path (default: the plan's)");
  return {sub, [opt, &global] { return run_dose(*opt, global); }};
}

}  // namespace vmatplan::cli
