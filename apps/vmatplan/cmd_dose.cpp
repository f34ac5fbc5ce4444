// vmatplan dose: the pencil-beam dose of a plan's fluence on a patient, written as an
// image (NIfTI .nii/.nii.gz, MetaImage .mha/.mhd, NRRD) in Gy on an isotropic grid.
// --plan may also be a DICOM RT Plan (.dcm): its apertures and MU become fluence on a
// 2.5 mm bixel grid (delivered_fluence.h: partial bixel opening, transmission).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/dose/dose_calculation.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/io/rtplan_reader.h"
#include "vmatplan/sequence/deliverability.h"
#include "vmatplan/sequence/delivered_fluence.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/pipeline/generate.h"

namespace vmatplan::cli {
namespace {
namespace fs = std::filesystem;

struct DoseCommandOptions {
  std::string patient;
  std::string plan;
  std::string out;
  std::string machine;       // "" = the plan's machine
  double spacing_mm = 2.5;   // final dose; optimization uses 5 mm
  // RT Plan arcs are integrated in sub-arcs of at most this gantry step (generate's
  // final-dose default, GenerateOptions::final_dose_cp_spacing_deg).
  double arc_step_deg = GenerateOptions{}.final_dose_cp_spacing_deg;
  bool overwrite = false;
};

// The image writer picks the format from the extension, so the staged file keeps it.
std::string image_extension(const std::string& path) {
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e(ext);
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return e;
  }
  throw UsageError("--out: expected a .nii.gz, .nii, .mha, .mhd or .nrrd file name (got '" + path + "')");
}

bool is_rtplan(const std::string& path) {
  return path.size() > 4 && (path.compare(path.size() - 4, 4, ".dcm") == 0 ||
                             path.compare(path.size() - 4, 4, ".DCM") == 0);
}

// An RT Plan as a plan file: one isocentre (the first beam's), each beam's control points,
// and the fluence its apertures deliver (all fractions) on a grid covering every field.
// Arcs are first split into sub-arcs of at most arc_step_deg (leaves, jaws and meterset
// interpolated as the machine moves them), so a plan with coarse control points is still
// integrated over its rotation instead of becoming a few static beams.
PlanFile plan_from_rtplan(const std::string& path, const std::string& requested,
                          double arc_step_deg, Machine& machine) {
  const DeliveryPlan read = read_rtplan(path);
  if (read.beams.empty()) throw InputError(path, "RT Plan has no beams");
  const DeliveryPlan d = subdivide_arcs(read, arc_step_deg);
  size_t before = 0, after = 0;
  for (size_t b = 0; b < d.beams.size(); ++b)
    before += read.beams[b].control_points.size(), after += d.beams[b].control_points.size();
  if (after != before)
    spdlog::info("RT Plan {}: {} control points, {} with sub-arcs of at most {} deg", path, before,
                 after, arc_step_deg);
  std::string how;
  machine = resolve_machine(d, requested, how);
  spdlog::info("RT Plan {}: machine {} ({})", path, machine.name, how);
  constexpr double kBixelMm = 2.5;
  double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
  PlanFile p;
  p.machine_name = machine.name;
  p.geometry.isocenter_mm = d.beams.front().isocenter_mm;
  p.geometry.patient_position = d.patient_position;
  for (const DeliveryBeam& b : d.beams) {
    if (!b.has_mlc()) throw InputError(path, "beam '" + b.name + "' has no MLC");
    Beam g;
    g.name = b.name;
    g.direction = b.control_points.front().gantry_direction;
    const DeliveryControlPoint& c0 = b.control_points.front();
    g.x1_mm = c0.x1_mm, g.x2_mm = c0.x2_mm, g.y1_mm = c0.y1_mm, g.y2_mm = c0.y2_mm;
    for (const DeliveryControlPoint& cp : b.control_points) {
      g.control_points.push_back({cp.gantry_deg, cp.collimator_deg, cp.couch_deg});
      for (size_t k = 0; k < cp.leaf_x1_mm.size(); ++k)
        if (cp.leaf_x2_mm[k] - cp.leaf_x1_mm[k] > 1e-3)  // open pairs only
          x0 = std::min(x0, cp.leaf_x1_mm[k]), x1 = std::max(x1, cp.leaf_x2_mm[k]);
      y0 = std::min(y0, b.y_jaw_type.empty() ? b.leaf_boundaries_mm.front() : cp.y1_mm);
      y1 = std::max(y1, b.y_jaw_type.empty() ? b.leaf_boundaries_mm.back() : cp.y2_mm);
    }
    p.geometry.beams.push_back(g);
  }
  if (!(x1 > x0) || !(y1 > y0)) throw InputError(path, "RT Plan has no open aperture");
  const FluenceGrid grid = FluenceGrid::covering(machine.mlc, x0, x1, y0, y1, kBixelMm);
  p.fluence = delivered_fluence(d, grid, machine, {});
  return p;
}

int run_dose(const DoseCommandOptions& opt, const GlobalOptions& global) {
  set_dose_engine_threads(global.threads);
  const std::string ext = image_extension(opt.out);
  if (!(opt.spacing_mm >= 0.5 && opt.spacing_mm <= 50))
    throw UsageError("--spacing: expected 0.5 to 50 mm (got " + std::to_string(opt.spacing_mm) + ")");
  check_output_separate("--out", opt.out, {{"--patient", opt.patient}, {"--plan", opt.plan}});
  // The output is reserved (and its folder's writability checked) before the engine runs.
  StagedOutput out(opt.out, StagedOutput::Kind::kFile, opt.overwrite);
  Machine machine;
  PlanFile plan;
  if (is_rtplan(opt.plan)) {
    plan = plan_from_rtplan(opt.plan, opt.machine, opt.arc_step_deg, machine);
  } else {
    plan = load_plan(opt.plan);
    machine = Machine::load_named(opt.machine.empty() ? plan.machine_name : opt.machine);
  }
  if (plan.fluence.control_point_count == 0 || plan.fluence.values.empty())
    throw InputError(opt.plan, "plan has no fluence to compute dose from");
  Patient patient = load_patient(opt.patient);

  DoseEngineOptions eo;
  eo.dose_spacing_mm = opt.spacing_mm;
  DoseCalculationStats stats;
  Image3D<float> dose = calculate_dose(patient, machine, plan.geometry, plan.fluence, eo, &stats);
  spdlog::info("dose {:.2f} s: {} voxels, {} control points, {} (voxel, control point) pairs",
               stats.seconds, stats.compute_voxels, stats.control_points, stats.pairs);

  const std::string staged = out.path() + ext;
  const int slot = register_temporary_path(staged);
  try {
    write_image(dose, staged);
    fs::rename(staged, out.path());
  } catch (...) {
    std::error_code ec;
    fs::remove(staged, ec);
    unregister_temporary_path(slot);
    throw;
  }
  unregister_temporary_path(slot);
  out.commit();

  double max_gy = 0, sum_gy = 0;  // zero outside the body's compute voxels
  for (float v : dose.voxels) {
    max_gy = std::max<double>(max_gy, v);
    sum_gy += v;
  }
  std::printf("wrote %s: grid %lld x %lld x %lld at %g mm, max %.3f Gy, body mean %.3f Gy\n",
              opt.out.c_str(), (long long)dose.grid.size[0], (long long)dose.grid.size[1],
              (long long)dose.grid.size[2], opt.spacing_mm, max_gy,
              stats.compute_voxels == 0 ? 0.0 : sum_gy / stats.compute_voxels);
  return 0;
}

}  // namespace

Command register_dose(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<DoseCommandOptions>();
  CLI::App* sub = app.add_subcommand("dose", "Pencil-beam dose of a plan's fluence on a patient");
  sub->add_option("--patient", opt->patient, "DICOM folder, image folder or matRad .mat")->required();
  sub->add_option("--plan", opt->plan, "Plan file (PLAN.json beside PLAN.safetensors) or DICOM RT Plan (.dcm)")->required();
  sub->add_option("--out", opt->out, "Dose image in Gy: .nii.gz, .nii, .mha, .mhd or .nrrd")->required();
  sub->add_option("--spacing", opt->spacing_mm, "Isotropic dose grid spacing, mm")->capture_default_str();
  sub->add_option("--machine", opt->machine,
                  "Machine config name (searched in $VMATPLAN_MACHINE_PATH, then configs/machines) "
                  "or path (default: the plan's TreatmentMachineName)");
  sub->add_option("--arc-step", opt->arc_step_deg,
                  "RT Plan arcs: largest gantry step of the sub-arcs the dose is integrated over (deg)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing dose file");
  return {sub, [opt, &global] { return run_dose(*opt, global); }};
}

}  // namespace vmatplan::cli
