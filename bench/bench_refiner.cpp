// L2Plan benchmark (issue 13): the dose predictor against the pencil-beam engine, and the
// convergence of the refiners (L2Plan, projected gradient, Adam, L-BFGS) from the same
// conformal start, as objective / converged classical optimum after N steps.
//
//   bench_refiner --seeds 30000,30001 [--weights DIR] [--sections predictor,refiners]
//                 [--spacing 2,2,2.5] [--bixel 5] [--dose-spacing 5] [--arc-spacing 4]
//
// Patients: pelvis phantoms made in-process from their seeds (as `vmatplan phantom --seed
// N --spacing ...`), and any --patient DIR[=PROTOCOL] (e.g. the public phantoms). Prints
// tables on stdout; times are wall seconds on whatever the machine is doing.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "vmatplan/core/threads.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/learn/dose_predictor.h"
#include "vmatplan/learn/refine_problem.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

namespace {

struct BenchPatient {
  std::string name;
  Patient patient;
  Protocol protocol;
};

std::vector<BenchPatient> load_patients(const std::vector<uint64_t>& seeds, const std::vector<double>& spacing,
                                        const std::vector<std::string>& dirs) {
  std::vector<BenchPatient> out;
  for (uint64_t s : seeds) {
    PelvisPhantomOptions po;
    po.seed = s;
    if (spacing.size() == 3) po.spacing_mm = {spacing[0], spacing[1], spacing[2]};
    out.push_back({"seed " + std::to_string(s), make_pelvis_phantom(po), load_protocol(kDefaultProtocol)});
  }
  for (const std::string& d : dirs) {
    const auto eq = d.find('=');
    const std::string path = d.substr(0, eq);
    const std::string protocol = eq == std::string::npos ? kDefaultProtocol : d.substr(eq + 1);
    out.push_back({path.substr(path.find_last_of('/') + 1), load_patient(path), load_protocol(protocol)});
  }
  return out;
}

void predictor_section(const std::vector<BenchPatient>& patients, const Machine& machine,
                       const StructureRoles& roles, const RefineCaseOptions& co) {
  std::printf("\n## Dose predictor vs pencil-beam engine (objective fwd + grad, best of 3)\n\n");
  std::printf("| patient | coarse mm | plane mm | engine s | predictor s | speed-up | dose-only speed-up | near voxels | gamma 3%%/3mm %% | "
              "max err %% | mean err %% | grad cosine | F ratio | engine set-up s | predictor set-up s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const BenchPatient& bp : patients) {
    RefineCaseOptions o = co;
    o.build_predictor = false;
    RefineCase c = make_refine_case(bp.patient, bp.protocol, machine, roles, o);
    const PlanObjective objective(bp.patient, bp.protocol, roles, c.engine->dose_grid(), c.engine->compute_voxels());
    torch::Tensor f = torch::tensor(c.conformal_start.values, torch::kFloat)
                          .view({c.conformal_start.control_point_count, c.grid.row_count(), c.grid.bixel_count});
    const Structure& target = roles.resolve(bp.patient, bp.protocol.prescription.targets.front().role);
    DosePredictor pred(bp.patient, machine, c.geometry, c.grid, c.engine->dose_grid(), c.engine->compute_voxels(),
                       &target.mask, co.predictor);
    const PredictorAgreement a = measure_predictor(*c.engine, pred, objective, f);
    std::printf("| %s | %.1f | %.1f | %.3f | %.4f | %.1f | %.1f | %lld | %.1f | %.2f | %.2f | %.4f | %.3f | %.2f | %.2f |\n",
                bp.name.c_str(), co.predictor.coarse_spacing_mm, co.predictor.plane_spacing_mm, a.engine_seconds,
                a.predictor_seconds, a.engine_seconds / a.predictor_seconds,
                a.engine_dose_seconds / a.predictor_dose_seconds, static_cast<long long>(pred.near_target_voxel_count()),
                a.gamma_pass_pct, a.max_abs_error_pct,
                a.mean_abs_error_pct, a.gradient_cosine, a.objective_ratio, c.engine->setup_seconds(),
                pred.setup_seconds());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"L2Plan benchmark: dose predictor and refiner convergence"};
  std::vector<uint64_t> seeds{30000, 30001};
  std::vector<std::string> dirs, sections{"predictor", "refiners"};
  std::vector<double> spacing{2, 2, 2.5};
  RefineCaseOptions co;
  double arc_spacing_deg = 4.0;
  int threads = 2;
  app.add_option("--seeds", seeds, "Phantom seeds (test: 30000-30029)")->delimiter(',');
  app.add_option("--patient", dirs, "Patient folder [=protocol]");
  app.add_option("--spacing", spacing, "Phantom CT spacing X,Y,Z mm")->delimiter(',');
  app.add_option("--bixel", co.plan.bixel_width_mm, "Bixel width, mm");
  app.add_option("--dose-spacing", co.plan.dose_spacing_mm, "Reference dose grid, mm");
  app.add_option("--arc-spacing", arc_spacing_deg, "Control-point spacing, deg");
  app.add_option("--coarse", co.predictor.coarse_spacing_mm, "Predictor dose grid, mm");
  app.add_option("--plane", co.predictor.plane_spacing_mm, "Predictor sample plane, mm");
  app.add_option("--near", co.predictor.fine_margin_mm, "Predictor full-grid margin around the target, mm");
  app.add_option("--sections", sections, "predictor, refiners")->delimiter(',');
  app.add_option("--threads", threads, "Threads");
  CLI11_PARSE(app, argc, argv);
  set_dose_engine_threads(threads);
  co.plan.arcs = default_two_arcs(arc_spacing_deg);
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  machine.max_cp_spacing_deg = std::max(machine.max_cp_spacing_deg, arc_spacing_deg);
  const StructureRoles roles = StructureRoles::load_default();
  const std::vector<BenchPatient> patients = load_patients(seeds, spacing, dirs);
  std::printf("# bench_refiner: %zu patients, bixel %.1f mm, dose grid %.1f mm, arcs 2 x %.0f deg, %d threads\n",
              patients.size(), co.plan.bixel_width_mm, co.plan.dose_spacing_mm, arc_spacing_deg, threads);
  if (std::find(sections.begin(), sections.end(), "predictor") != sections.end())
    predictor_section(patients, machine, roles, co);
  return 0;
}
