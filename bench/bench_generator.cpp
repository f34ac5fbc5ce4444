// FMD generator benchmark, two modes.
//
// Timing (default): time and peak memory of the fluence generators' parts on a synthetic
// prostate patient (pelvis phantom seed 1, 2 mm x 2 mm x 2.5 mm), two full arcs at 4 deg
// (2 x 91 control points) on the FMD canvas:
//   BEV conditioning (compute_bev_conditioning, both arcs)
//   student: 1 network evaluation per arc          (--generator fmd)
//   teacher: Heun, N steps = 2 N - 1 evaluations    (--generator fmd-teacher)
// With --weights DIR the model folder's networks are timed; without, untrained networks
// of the default architecture (the time does not depend on the weights' values).
// One warm-up, then the minimum and median of R runs; peak RSS is the process's so far.
//
//   bench_generator [--weights DIR] [--threads N] [--runs R] [--steps N] [--width W (untrained only)]
//
// Evaluation (--evaluate, issue 12's comparison table; docs/fmd.md "Generator comparison"):
// every generator's fluence on the patients of a phantom cohort against the classical
// reference plans of its `batch --training-set` folder: generation time, goals met before
// any refinement, PTV D95 / D2, rectum and bladder goal metrics, mean |dD| in BODY and
// gamma 3 %/3 mm against the reference, optionally goals after sequencing and the spread
// over noise seeds. Doses on the optimisation grid, normalised per the protocol.
//
//   bench_generator --evaluate --cohort COHORT.json --reference DIR
//       [--generators classical,fmd,fmd-teacher,fmd-regression,open-field] [--weights DIR]
//       [--limit N] [--threads T] [--sampler-steps 18] [--diversity-seeds 8]
//       [--diversity-teacher] [--sequence] [--jsonl FILE [--resume]]
// --resume: keep the patients FILE already finished (a "patient_done" line each), append
// the rest, and summarise them all: a run of hours survives being killed.
#include <sys/resource.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_inference.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_roles.h"
#include "vmatplan/pipeline/batch.h"
#include "vmatplan/pipeline/delivery_stages.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/pipeline/training_set.h"
#include "vmatplan/sequence/arc_sequencer.h"

using namespace vmatplan;

namespace {

double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

void row(const char* what, const std::function<void()>& body, int runs, const char* note) {
  body();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  std::printf("| %-34s | %9.3f | %9.3f | %8.0f | %s\n", what, t.front(), t[t.size() / 2], peak_rss_mb(), note);
}

LoadedFmdNetwork untrained(int width) {
  LoadedFmdNetwork n;
  n.config.base_channels = width;
  torch::manual_seed(1);
  n.net = FmdUNet(n.config);
  n.net->eval();
  return n;
}

}  // namespace

int timing_main(int argc, char** argv) {
  std::string weights;
  int threads = 2, runs = 3, steps = 18, width = FmdNetworkConfig{}.base_channels;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--weights")) weights = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--steps")) steps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--width")) width = std::max(4, std::atoi(argv[i + 1]));
  }
  set_thread_count(threads);
  torch::set_num_threads(threads);

  PelvisPhantomOptions po;
  po.seed = 1;
  po.spacing_mm = {2.0, 2.0, 2.5};
  const Patient patient = make_pelvis_phantom(po);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const StructureRoles roles = StructureRoles::load_default();
  const Structure& ptv = roles.resolve(patient, "ptv");
  const PlanGeometry geometry = build_plan_geometry(patient, machine, default_two_arcs(4.0), ptv.name, 5.0, {});
  const FluenceGrid grid = fluence_grid_for_plan(geometry, machine, 5.0);
  const FmdCanvas canvas;

  LoadedFmdNetwork student = weights.empty() ? untrained(width)
                                             : load_fmd_network(weights, "student", kTrainingSetVersion, canvas);
  LoadedFmdNetwork teacher = weights.empty() ? untrained(width)
                                             : load_fmd_network(weights, "teacher", kTrainingSetVersion, canvas);
  std::printf("bench_generator: phantom seed 1, %zu arcs, %d control points, grid %d x %d, canvas %d x %d, "
              "%lld parameters, %s, %d threads\n\n",
              geometry.beams.size(), geometry.control_point_count(), grid.row_count(), grid.bixel_count,
              canvas.rows, canvas.bixels, static_cast<long long>(parameter_count(*student.net)),
              weights.empty() ? "untrained networks" : weights.c_str(), threads);
  std::printf("| %-34s | %9s | %9s | %8s | note\n", "part", "min s", "median s", "peak MB");
  std::printf("|%s|%s|%s|%s|---\n", std::string(36, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(10, '-').c_str());

  BevConditioning cond;
  row("BEV conditioning (2 arcs)", [&] {
    cond = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, machine.sad_mm});
  }, runs, "same function as the training export");

  const size_t plane = static_cast<size_t>(grid.size_per_control_point());
  std::vector<torch::Tensor> arcs;
  int first = 0;
  for (const Beam& b : geometry.beams) {
    std::vector<float> gantry;
    for (const auto& cp : b.control_points) gantry.push_back(static_cast<float>(cp.gantry_deg));
    const int n = static_cast<int>(b.control_points.size());
    arcs.push_back(fmd_condition_on_canvas(canvas, grid, cond.values.data() + first * cond.channels * plane,
                                           gantry.data(), n));
    first += n;
  }
  row("student, 1 step (2 arcs)", [&] {
    for (size_t a = 0; a < arcs.size(); ++a) fmd_sample_arc(student, FmdNetworkRole::kStudent, arcs[a], a, 1);
  }, runs, "target <= 0.3 s on 2 cores");
  const std::string teacher_label = "teacher, " + std::to_string(steps) + " steps (2 arcs)";
  row(teacher_label.c_str(), [&] {
    for (size_t a = 0; a < arcs.size(); ++a) fmd_sample_arc(teacher, FmdNetworkRole::kTeacher, arcs[a], a, steps);
  }, std::min(runs, 2), "2 N - 1 evaluations per arc");
  return 0;
}

// ---------------------------------------------------------------------------------------
// --evaluate: the issue-12 comparison of fluence generators on a phantom cohort against
// its classical reference plans (docs/fmd.md, "Generator comparison").
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct EvaluationOptions {
  std::string cohort;     // `vmatplan phantom --cohort` manifest
  std::string reference;  // its `batch --training-set` folder
  std::vector<std::string> generators{"classical", "fmd", "fmd-teacher", "fmd-regression", "open-field"};
  std::string weights;    // model folder of the learned generators; "" = the shipped one
  int limit = 0;          // the first N patients; 0 = all
  int threads = 2;
  int sampler_steps = 18;
  int diversity_seeds = 0;
  bool diversity_teacher = false;
  bool sequence = false;
  std::string jsonl;
  bool resume = false;  // keep the finished patients of jsonl, append the others
};

// What one generator's fluence gives on one patient (optimisation grid, normalised).
struct GeneratorRow {
  std::string patient, generator;
  double generation_s = -1;  // -1: not known
  int goals_met = 0, goals_total = 0;
  double normalisation_scale = 1;
  double mean_abs_dd_body_pct = 0;  // % of Rx, against the reference fluence's dose
  double gamma_pct = 0;             // 3 %/3 mm global, 10 % threshold, against the reference
  double ptv_d95_gy = 0, ptv_d2_gy = 0;
  std::vector<std::pair<std::string, double>> oar;  // the protocol's rectum / bladder goal metrics
  bool sequenced = false;
  int goals_met_sequenced = 0;
  std::string sequencing_status;
  double sequencing_s = 0;
  double evaluation_s = 0;  // the bench's own work: dose, normalisation, metrics, gamma
  double network_s = -1;    // of generation_s, in the networks (learned generators' info)
  nlohmann::json info;
  double goals_pct() const { return goals_total ? 100.0 * goals_met / goals_total : 0.0; }
  double goals_pct_sequenced() const { return goals_total ? 100.0 * goals_met_sequenced / goals_total : 0.0; }
};

// One patient's reference: the classical fluence before sequencing, from the batch folder.
struct Reference {
  std::string source;
  FluencePlan plan;
  double fluence_stage_s = -1;  // summary.json stages "fluence"; -1 when not recorded
  int summary_goals_fluence_level = -1, summary_goals_total = -1;
};

const std::string& metadata(const SafeTensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw InputError(path, "training example has no metadata '" + key + "'");
  return it->second;
}

// The reference fluence of `dir` (training.safetensors: MU per fraction before sequencing)
// on `geometry`, which must be the geometry it was planned on (same fluence grid,
// isocentre and gantry angles), else InputError naming the file.
Reference read_reference(const std::string& dir, const Patient& patient, const Protocol& protocol,
                         const PlanGeometry& geometry, const FluenceGrid& grid) {
  const std::string path = dir + "/" + kTrainingFileName;
  const SafeTensorsFile f = read_safetensors(path);
  if (metadata(f, "patient_id", path) != patient.identity.patient_id)
    throw InputError(path, "made for patient '" + metadata(f, "patient_id", path) + "', not '" +
                               patient.identity.patient_id + "'");
  if (metadata(f, "protocol", path) != protocol.name)
    throw InputError(path, "made with protocol '" + metadata(f, "protocol", path) + "', not '" + protocol.name + "'");
  int fractions = 0, cps = 0;
  try {
    fractions = std::stoi(metadata(f, "fractions", path));
    cps = std::stoi(metadata(f, "control_points", path));
    const nlohmann::json iso = nlohmann::json::parse(metadata(f, "isocenter_mm", path));
    const nlohmann::json edges = nlohmann::json::parse(metadata(f, "leaf_row_edges_mm", path));
    const bool same_grid = std::stoi(metadata(f, "first_leaf_pair", path)) == grid.first_leaf_pair &&
                           std::stoi(metadata(f, "bixel_count", path)) == grid.bixel_count &&
                           std::abs(std::stod(metadata(f, "x_min_mm", path)) - grid.x_min_mm) < 1e-6 &&
                           std::abs(std::stod(metadata(f, "bixel_width_mm", path)) - grid.bixel_width_mm) < 1e-9 &&
                           edges.get<std::vector<double>>() == grid.row_edges_mm;
    if (!same_grid) throw InputError(path, "reference fluence grid differs from this build's plan grid");
    for (int a = 0; a < 3; ++a)
      if (std::abs(iso.at(a).get<double>() - geometry.isocenter_mm[a]) > 1e-3)
        throw InputError(path, "reference isocentre differs from this build's plan geometry");
  } catch (const std::logic_error& e) {  // std::stoi / std::stod / JSON
    throw InputError(path, std::string("unreadable grid metadata: ") + e.what());
  }
  if (cps != geometry.control_point_count() || fractions < 1)
    throw InputError(path, "reference has " + std::to_string(cps) + " control points, this build's plan geometry " +
                               std::to_string(geometry.control_point_count()));
  const SafeTensor& fluence = f.get("fluence");
  const SafeTensor& gantry = f.get("gantry_deg");
  if (fluence.dtype != "F32" || fluence.shape != std::vector<int64_t>{cps, grid.row_count(), grid.bixel_count} ||
      gantry.dtype != "F32" || gantry.element_count() != cps)
    throw InputError(path, "tensor 'fluence' or 'gantry_deg' has an unexpected dtype or shape");
  const std::vector<float> angles = gantry.as<float>();
  int c = 0;
  for (const Beam& b : geometry.beams)
    for (const auto& cp : b.control_points)
      if (std::abs(std::remainder(angles[c++] - cp.gantry_deg, 360.0)) > 1e-3)
        throw InputError(path, "reference gantry angles differ from this build's plan geometry");
  Reference r;
  r.source = path;
  r.plan.geometry = geometry;
  r.plan.fluence.grid = grid;
  r.plan.fluence.control_point_count = cps;
  r.plan.fluence.values = fluence.as<float>();
  for (float& v : r.plan.fluence.values) v *= static_cast<float>(fractions);  // MU per fraction -> plan MU

  const nlohmann::json s = read_json_file(dir + "/summary.json", "plan summary");
  for (const auto& st : s.value("stages", nlohmann::json::array()))
    if (st.value("stage", "") == "fluence") r.fluence_stage_s = st.value("seconds", -1.0);
  if (s.contains("fluence_stage")) {
    const auto& fs = s["fluence_stage"];
    r.summary_goals_fluence_level = fs.value("goals_passed_fluence_level", -1);
    r.summary_goals_total = r.summary_goals_fluence_level + fs.value("goals_failed_fluence_level", 0);
  }
  return r;
}

// True when the engine of `b` computes `a`'s dose: same fluence grid, isocentre, jaws and
// control points.
bool same_plan_grid(const FluencePlan& a, const FluencePlan& b) {
  const FluenceGrid &ga = a.fluence.grid, &gb = b.fluence.grid;
  if (ga.first_leaf_pair != gb.first_leaf_pair || ga.row_edges_mm != gb.row_edges_mm ||
      ga.bixel_count != gb.bixel_count || ga.x_min_mm != gb.x_min_mm || ga.bixel_width_mm != gb.bixel_width_mm ||
      a.geometry.isocenter_mm != b.geometry.isocenter_mm || a.geometry.beams.size() != b.geometry.beams.size())
    return false;
  for (size_t i = 0; i < a.geometry.beams.size(); ++i) {
    const Beam &x = a.geometry.beams[i], &y = b.geometry.beams[i];
    if (x.control_points.size() != y.control_points.size() || x.x1_mm != y.x1_mm || x.x2_mm != y.x2_mm ||
        x.y1_mm != y.y1_mm || x.y2_mm != y.y2_mm)
      return false;
    for (size_t c = 0; c < x.control_points.size(); ++c)
      if (x.control_points[c].gantry_deg != y.control_points[c].gantry_deg ||
          x.control_points[c].collimator_deg != y.control_points[c].collimator_deg)
        return false;
  }
  return true;
}

// Everything one patient's rows share.
struct PatientCase {
  std::string id;
  const Patient& patient;
  const Protocol& protocol;
  const Machine& machine;
  const StructureRoles& roles;
  const GenerateOptions& generate;  // generate's defaults: fluence, sequencer and delivery stages
  Reference reference;
  std::shared_ptr<const PencilBeamEngine> engine;  // optimisation grid on the reference's geometry
  DoseImage reference_dose;                        // on it, normalised
  DoseImage reference_on_ct;                       // the same resampled to the CT grid
  const Mask* body = nullptr;
  double rx_gy = 0;
};

// The optimisation-grid engine for `plan`: the patient's when the plan has the reference's
// geometry and grid, else the plan's own, else a new one (generate's meterset stage does the same).
std::shared_ptr<const PencilBeamEngine> engine_for(const PatientCase& pc, const FluencePlan& plan) {
  if (same_plan_grid(plan, pc.reference.plan)) return pc.engine;
  if (plan.engine) return plan.engine;
  DoseEngineOptions eo;
  eo.dose_spacing_mm = pc.generate.fluence.dose_spacing_mm;
  return std::make_shared<const PencilBeamEngine>(pc.patient, pc.machine, plan.geometry, plan.fluence.grid, eo);
}

// Goals, PTV D95 / D2 and the rectum and bladder goal metrics of an evaluation.
void read_metrics(const PatientCase& pc, const PlanEvaluation& e, GeneratorRow& row) {
  row.goals_met = e.goals_passed();
  row.goals_total = 0;
  for (const GoalResult& g : e.goals) row.goals_total += g.status != GoalStatus::kNotEvaluated;
  const std::string& target_role = pc.protocol.prescription.targets.front().role;
  for (const StructureEvaluation& s : e.structures)
    if (s.role == target_role) row.ptv_d95_gy = s.metrics.d95_gy, row.ptv_d2_gy = s.metrics.d2_gy;
  row.oar.clear();
  for (const GoalResult& g : e.goals)
    if ((g.goal.role == "rectum" || g.goal.role == "bladder") && g.status != GoalStatus::kNotEvaluated)
      row.oar.emplace_back(g.goal.role + " " + g.goal.metric.text, g.value);
}

// The fluence's dose on the optimisation grid, normalised per the protocol as the classical
// planner normalises its plans; with `compare`, |dD| in BODY and gamma against the reference.
GeneratorRow evaluate_fluence(const PatientCase& pc, const FluencePlan& plan, const std::string& generator,
                              bool compare) {
  const auto t0 = Clock::now();
  GeneratorRow row;
  row.patient = pc.id, row.generator = generator;
  DoseImage dose = engine_for(pc, plan)->dose_image(plan.fluence);
  const NormalisedDose n = normalise_to_protocol(pc.patient, dose, pc.protocol, pc.roles);
  row.normalisation_scale = n.scale;
  read_metrics(pc, n.evaluation, row);
  if (compare) {
    const DoseImage on_ct = resample_dose(dose, pc.patient.ct_hu.grid);
    double sum = 0;
    int64_t count = 0;
    for (size_t i = 0; i < on_ct.voxels.size(); ++i)
      if (pc.body->voxels[i]) sum += std::abs(on_ct.voxels[i] - pc.reference_on_ct.voxels[i]), ++count;
    row.mean_abs_dd_body_pct = count ? 100.0 * sum / count / pc.rx_gy : 0.0;
    GammaOptions go;  // global, 10 % low-dose threshold
    go.dose_criterion_pct = 3.0;
    go.distance_mm = 3.0;
    // The pass rate needs only whether gamma <= 1, which no point beyond 1 DTA can give: a
    // search to 1.05 DTA gives the default (2 DTA) pass rate at a seventh of the lattice.
    // Not 1.0: the cap itself counts as a pass.
    go.max_gamma = 1.05;
    row.gamma_pct = compute_gamma(pc.reference_dose, dose, go).pass_rate_pct;
  }
  row.evaluation_s = seconds_since(t0);
  return row;
}

// generate's delivery stages on the fluence as generated (sequencing, then direct aperture
// optimisation with the protocol's normalisation): goals met on the optimisation grid.
void sequence_and_evaluate(const PatientCase& pc, FluencePlan plan, GeneratorRow& row) {
  const auto t0 = Clock::now();
  plan.engine = engine_for(pc, plan);
  PlanFile fluence_plan;
  fluence_plan.machine_name = pc.machine.name;
  fluence_plan.geometry = plan.geometry;
  fluence_plan.fluence = plan.fluence;
  const std::string& target = pc.roles.resolve(pc.patient, pc.protocol.prescription.targets.front().role).name;
  const SequencedPlan s =
      sequence_arcs(fluence_plan, pc.machine, sequencer_stage_options(pc.generate, pc.protocol, target));
  const DeliveryOptimisation d =
      optimise_delivery(s.plan, plan, {pc.patient, pc.protocol, pc.roles}, pc.machine, pc.generate);
  PlanEvaluation e = d.evaluation;
  if (!d.applied) {  // the sequenced apertures as they are, normalised
    DoseImage dose = plan.engine->dose_image(
        aperture_fluence_on_geometry(d.plan, plan.fluence.grid, plan.geometry, pc.machine));
    e = normalise_to_protocol(pc.patient, dose, pc.protocol, pc.roles).evaluation;
  }
  row.sequenced = true;
  row.goals_met_sequenced = e.goals_passed();
  row.sequencing_status = d.info.value("status", "");
  row.sequencing_s = seconds_since(t0);
  row.info["delivery_stages"] = d.info;
}

using vmatplan::bench::median;

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}

// Population standard deviation (the spread of the K samples themselves).
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / v.size());
}

std::string fmt(double v, const char* f = "%.2f") {
  if (std::isnan(v)) return "–";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

nlohmann::json row_json(const GeneratorRow& r) {
  nlohmann::json j = {{"type", "row"},
                      {"patient", r.patient},
                      {"generator", r.generator},
                      {"goals_met", r.goals_met},
                      {"goals_total", r.goals_total},
                      {"goals_pct", r.goals_pct()},
                      {"normalisation_scale", r.normalisation_scale},
                      {"mean_abs_dd_body_pct_rx", r.mean_abs_dd_body_pct},
                      {"gamma_3pct_3mm_pct", r.gamma_pct},
                      {"ptv_d95_gy", r.ptv_d95_gy},
                      {"ptv_d2_gy", r.ptv_d2_gy},
                      {"dose_grid", "optimisation grid"},
                      {"evaluation_s", r.evaluation_s}};
  j["generation_s"] = r.generation_s >= 0 ? nlohmann::json(r.generation_s) : nlohmann::json();
  if (r.network_s >= 0) j["network_s"] = r.network_s;
  for (const auto& [k, v] : r.oar) j["oar"][k] = v;
  if (r.sequenced) {
    j["goals_met_sequenced"] = r.goals_met_sequenced;
    j["sequencing_status"] = r.sequencing_status;
    j["sequencing_s"] = r.sequencing_s;
  }
  j["info"] = r.info;
  return j;
}

// The inverse of row_json, for --resume.
GeneratorRow row_from_json(const nlohmann::json& j) {
  GeneratorRow r;
  r.patient = j.at("patient").get<std::string>();
  r.generator = j.at("generator").get<std::string>();
  r.goals_met = j.at("goals_met").get<int>();
  r.goals_total = j.at("goals_total").get<int>();
  r.normalisation_scale = j.at("normalisation_scale").get<double>();
  r.mean_abs_dd_body_pct = j.at("mean_abs_dd_body_pct_rx").get<double>();
  r.gamma_pct = j.at("gamma_3pct_3mm_pct").get<double>();
  r.ptv_d95_gy = j.at("ptv_d95_gy").get<double>();
  r.ptv_d2_gy = j.at("ptv_d2_gy").get<double>();
  r.evaluation_s = j.at("evaluation_s").get<double>();
  if (!j.at("generation_s").is_null()) r.generation_s = j["generation_s"].get<double>();
  r.network_s = j.value("network_s", -1.0);
  if (j.contains("oar"))
    for (const auto& [k, v] : j["oar"].items()) r.oar.emplace_back(k, v.get<double>());
  if (j.contains("goals_met_sequenced")) {
    r.sequenced = true;
    r.goals_met_sequenced = j["goals_met_sequenced"].get<int>();
    r.sequencing_status = j.at("sequencing_status").get<std::string>();
    r.sequencing_s = j.at("sequencing_s").get<double>();
  }
  r.info = j.value("info", nlohmann::json::object());
  return r;
}

// The spread of one generator's samples over noise seeds on one patient.
struct Diversity {
  std::string patient, generator;
  std::vector<uint64_t> seeds;
  std::vector<std::string> names;           // "PTV D95", then the rectum goal metrics
  std::vector<std::vector<double>> values;  // [metric][seed]
};

void print_diversity(const Diversity& d) {
  std::printf("| %s | %s | %zu |", d.patient.c_str(), d.generator.c_str(), d.seeds.size());
  for (const auto& v : d.values) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    std::printf(" %s–%s (%s) |", fmt(*lo).c_str(), fmt(*hi).c_str(), fmt(stddev(v)).c_str());
  }
  std::printf("\n");
}

// The machine's 1-minute load average: the times are wall times on a shared machine.
double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : std::nan("");
}

int run_evaluation(const EvaluationOptions& o) {
  set_dose_engine_threads(o.threads);
  const std::vector<CohortEntry> cohort = load_cohort(o.cohort);
  const nlohmann::json manifest = read_json_file(o.cohort, "cohort manifest");
  std::map<std::string, std::string> seed_of;  // phantom cohorts record each patient's seed
  if (manifest.is_object() && manifest.contains("patients") && manifest["patients"].is_array())
    for (const auto& p : manifest["patients"])
      if (p.contains("id") && p.contains("seed")) seed_of[p["id"].get<std::string>()] = p["seed"].dump();
  const size_t count = o.limit > 0 ? std::min<size_t>(o.limit, cohort.size()) : cohort.size();
  std::string seeds;
  for (size_t i = 0; i < count; ++i)
    seeds += (i ? "," : "") + (seed_of.count(cohort[i].id) ? seed_of[cohort[i].id] : cohort[i].id);

  // Every reference is there before hours of work start.
  for (size_t i = 0; i < count; ++i)
    for (const char* file : {kTrainingFileName, "summary.json"}) {
      const std::string path = o.reference + "/" + cohort[i].id + "/" + file;
      if (!std::filesystem::is_regular_file(path)) throw InputError(path, "reference plan file missing (batch --training-set)");
    }

  const GenerateOptions generate;  // generate's defaults
  const ClassicalPlanOptions fluence_options = fluence_stage_options(generate);
  const Machine machine = Machine::load_named(generate.machine);
  const StructureRoles roles = StructureRoles::load_default();
  const std::vector<std::string> registered = fluence_generator_names();
  // --resume: the lines of the patients an earlier run finished; the rest is dropped.
  std::set<std::string> done;
  std::vector<nlohmann::json> kept;
  if (o.resume && !o.jsonl.empty() && std::filesystem::is_regular_file(o.jsonl)) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(o.jsonl);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) break;  // a line cut by the kill: nothing after it was finished
      if (j.value("type", "") == "patient_done") done.insert(j.at("patient").get<std::string>());
      lines.push_back(std::move(j));
    }
    for (nlohmann::json& j : lines)
      if (done.count(j.value("patient", ""))) kept.push_back(std::move(j));
  }
  std::FILE* jsonl = nullptr;
  if (!o.jsonl.empty() && !(jsonl = std::fopen(o.jsonl.c_str(), "w")))
    throw InputError(o.jsonl, "cannot write the JSONL file");
  for (const nlohmann::json& j : kept) std::fprintf(jsonl, "%s\n", j.dump().c_str());

  std::printf("bench_generator --evaluate: cohort %s, seeds %s (%zu of %zu patients), reference %s, machine %s, "
              "%zu arcs at %.0f deg (generate's default), %.0f mm bixels, %.0f mm optimisation dose grid, "
              "%d threads, weights %s, fmd-teacher %d steps, load average %.1f at start\n",
              o.cohort.c_str(), seeds.c_str(), count, cohort.size(), o.reference.c_str(), machine.name.c_str(),
              fluence_options.arcs.size(), fluence_options.arcs.front().cp_spacing_deg, fluence_options.bixel_width_mm, fluence_options.dose_spacing_mm, o.threads,
              o.weights.empty() ? "models/fmd (shipped)" : o.weights.c_str(), o.sampler_steps, load_average());
  std::printf("All doses, goals, metrics and gamma on the %.0f mm optimisation grid, each fluence normalised per the "
              "protocol (normalise_to_protocol). \"classical\" is the reference itself, read from "
              "DIR/<id>/training.safetensors (its fluence before sequencing), not re-optimised; its time is the "
              "reference summary's fluence stage.%s\n\n",
              fluence_options.dose_spacing_mm,
              o.sequence ? " \"after seq\": goals met after generate's sequencing + direct aperture optimisation "
                           "(normalised), on the same grid." : "");

  std::vector<std::string> generators;
  for (const std::string& g : o.generators) {
    if (g != "classical" && std::find(registered.begin(), registered.end(), g) == registered.end()) {
      std::printf("row %s skipped: generator not registered in this build\n", g.c_str());
      continue;
    }
    generators.push_back(g);
  }
  std::map<std::string, std::string> skipped;  // generator -> why (e.g. no weights)
  std::vector<GeneratorRow> rows;
  std::vector<Diversity> diversity;
  std::vector<std::string> oar_names;  // column order: first seen first
  auto note_oar_names = [&](const GeneratorRow& r) {
    for (const auto& [k, v] : r.oar)
      if (std::find(oar_names.begin(), oar_names.end(), k) == oar_names.end()) oar_names.push_back(k);
  };
  for (const nlohmann::json& j : kept) {
    const std::string type = j.value("type", "");
    if (type == "row") {
      GeneratorRow r = row_from_json(j);
      note_oar_names(r);
      rows.push_back(std::move(r));
    } else if (type == "diversity") {
      Diversity d{j.at("patient").get<std::string>(), j.at("generator").get<std::string>()};
      d.seeds = j.at("seeds").get<std::vector<uint64_t>>();
      for (const auto& [k, v] : j.at("values").items()) d.names.push_back(k), d.values.push_back(v.get<std::vector<double>>());
      diversity.push_back(std::move(d));
    }
  }
  if (o.resume) std::printf("resumed: %zu finished patients read from %s\n", done.size(), o.jsonl.c_str());
  std::set<std::string> warmed;  // generators whose process-wide start-up is paid

  std::printf("\n## Per patient\n\n| patient | generator | gen s | goals met | mean abs dD BODY %% Rx | gamma 3%%/3mm %% | "
              "PTV D95 Gy | PTV D2 Gy | OAR goal metrics |%s\n|---|---|---|---|---|---|---|---|---|%s\n",
              o.sequence ? " after seq | seq s |" : "", o.sequence ? "---|---|" : "");
  for (size_t i = 0; i < count; ++i) {
    const CohortEntry& entry = cohort[i];
    if (done.count(entry.id)) continue;
    const Patient patient = load_patient(entry.path);
    const Protocol protocol = load_protocol(entry.protocol.empty() ? generate.protocol : entry.protocol);
    if (protocol.prescription.targets.empty())
      throw ProcessingError("protocol '" + protocol.name + "' has no target level");
    const Structure& target = roles.resolve(patient, protocol.prescription.targets.front().role);
    // The plan geometry every generator builds (isocentre at the target, jaws fitted).
    const PlanGeometry geometry = build_plan_geometry(patient, machine, fluence_options.arcs, target.name,
                                                      fluence_options.jaw_margin_mm, {});
    const FluenceGrid grid = fluence_grid_for_plan(geometry, machine, fluence_options.bixel_width_mm);
    PatientCase pc{entry.id, patient, protocol, machine, roles, generate,
                   read_reference(o.reference + "/" + entry.id, patient, protocol, geometry, grid)};
    DoseEngineOptions eo;
    eo.dose_spacing_mm = fluence_options.dose_spacing_mm;
    pc.engine = std::make_shared<const PencilBeamEngine>(patient, machine, geometry, grid, eo);
    pc.reference_dose = pc.engine->dose_image(pc.reference.plan.fluence);
    const NormalisedDose ref_norm = normalise_to_protocol(patient, pc.reference_dose, protocol, roles);
    pc.reference_on_ct = resample_dose(pc.reference_dose, patient.ct_hu.grid);
    pc.body = &roles.resolve(patient, "body").mask;
    pc.rx_gy = protocol.prescription.total_dose_gy;

    auto emit = [&](GeneratorRow r) {
      std::string oar;
      for (const auto& [k, v] : r.oar) oar += (oar.empty() ? "" : ", ") + k + " " + fmt(v, "%.1f");
      note_oar_names(r);
      std::printf("| %s | %s | %s | %d/%d | %.2f | %.1f | %.2f | %.2f | %s |", r.patient.c_str(), r.generator.c_str(),
                  fmt(r.generation_s, "%.3f").c_str(), r.goals_met, r.goals_total, r.mean_abs_dd_body_pct,
                  r.gamma_pct, r.ptv_d95_gy, r.ptv_d2_gy, oar.c_str());
      if (r.sequenced)
        std::printf(" %d/%d%s | %.1f |", r.goals_met_sequenced, r.goals_total,
                    r.sequencing_status == "applied" ? "" : (" (" + r.sequencing_status + ")").c_str(), r.sequencing_s);
      std::printf("\n");
      if (jsonl) std::fprintf(jsonl, "%s\n", row_json(r).dump().c_str());
      std::fflush(nullptr);
      rows.push_back(std::move(r));
    };

    for (const std::string& name : generators) {
      if (skipped.count(name)) continue;
      if (name == "classical") {
        GeneratorRow r = evaluate_fluence(pc, pc.reference.plan, name, true);
        r.generation_s = pc.reference.fluence_stage_s;
        r.info = {{"source", pc.reference.source},
                  {"reference_normalisation_scale", ref_norm.scale},
                  {"reference_summary_goals_fluence_level", pc.reference.summary_goals_fluence_level},
                  {"reference_summary_goals_total", pc.reference.summary_goals_total}};
        if (o.sequence) {
          FluencePlan plan = pc.reference.plan;
          sequence_and_evaluate(pc, std::move(plan), r);
        }
        emit(std::move(r));
        continue;
      }
      FluenceStageContext context{patient, protocol, machine, roles, fluence_options, {}};
      context.learned = {o.weights, 0, o.sampler_steps};
      auto generator = make_fluence_generator(name);
      FluencePlan plan;
      double generation_s = 0;
      try {
        // A process's first call of a network pays LibTorch's one-time start-up (kernel
        // selection, allocator): one untimed call on the first patient.
        if (warmed.insert(name).second) generator->generate(context);
        const auto t0 = Clock::now();
        plan = generator->generate(context);
        generation_s = seconds_since(t0);
      } catch (const InputError& e) {  // e.g. no trained weights
        skipped[name] = e.what();
        std::printf("row %s skipped: %s\n", name.c_str(), e.what());
        continue;
      }
      GeneratorRow r = evaluate_fluence(pc, plan, name, true);
      r.generation_s = generation_s;
      r.info = plan.info;
      r.network_s = plan.info.value("network_seconds", -1.0);
      if (o.sequence) sequence_and_evaluate(pc, plan, r);
      emit(std::move(r));

      const bool diverse = o.diversity_seeds > 1 && (name == "fmd" || (name == "fmd-teacher" && o.diversity_teacher));
      if (!diverse) continue;
      Diversity d{entry.id, name};
      for (int k = 0; k < o.diversity_seeds; ++k) {
        context.learned.seed = static_cast<uint64_t>(k);
        const GeneratorRow s = evaluate_fluence(pc, generator->generate(context), name, false);
        if (d.names.empty()) {
          d.names.push_back("PTV D95 Gy");
          for (const auto& [m, v] : s.oar)
            if (m.rfind("rectum", 0) == 0) d.names.push_back(m);
          d.values.resize(d.names.size());
        }
        d.seeds.push_back(k);
        d.values[0].push_back(s.ptv_d95_gy);
        size_t m = 1;
        for (const auto& [metric, v] : s.oar)
          if (metric.rfind("rectum", 0) == 0 && m < d.values.size()) d.values[m++].push_back(v);
      }
      if (jsonl) {
        nlohmann::json j = {{"type", "diversity"}, {"patient", d.patient}, {"generator", d.generator}, {"seeds", d.seeds}};
        for (size_t m = 0; m < d.names.size(); ++m) j["values"][d.names[m]] = d.values[m];
        std::fprintf(jsonl, "%s\n", j.dump().c_str());
      }
      diversity.push_back(std::move(d));
    }
    if (jsonl) {
      std::fprintf(jsonl, "%s\n", nlohmann::json({{"type", "patient_done"}, {"patient", entry.id}}).dump().c_str());
      std::fflush(jsonl);
    }
  }

  // Summary per generator: medians and means over patients.
  std::printf("\n## Per generator (%zu patients, cohort seeds %s)\n\n", count, seeds.c_str());
  std::printf("| generator | patients | gen s median | gen s mean | goals met %% median | goals met %% mean | "
              "patients >= 80 %% goals | mean abs dD BODY %% Rx median | mean | gamma 3%%/3mm %% median | mean | "
              "PTV D95 Gy median | PTV D2 Gy median |%s\n|---|---|---|---|---|---|---|---|---|---|---|---|---|%s\n",
              o.sequence ? " after seq goals % median | mean | patients >= 80 % |" : "", o.sequence ? "---|---|---|" : "");
  std::map<std::string, std::map<std::string, double>> oar_median;
  struct Summary {
    size_t patients = 0;
    int ge80 = 0;
    double generation_s_median = 0, network_s_median = 0, goals_pct_mean = 0, dd_median = 0;
  };
  std::map<std::string, Summary> summary;
  for (const std::string& g : generators) {
    std::vector<double> t, net, goals, dd, gamma, d95, d2, seq;
    int ge80 = 0, seq_ge80 = 0;
    std::map<std::string, std::vector<double>> oar;
    for (const GeneratorRow& r : rows) {
      if (r.generator != g) continue;
      if (r.generation_s >= 0) t.push_back(r.generation_s);
      if (r.network_s >= 0) net.push_back(r.network_s);
      goals.push_back(r.goals_pct()), dd.push_back(r.mean_abs_dd_body_pct), gamma.push_back(r.gamma_pct);
      d95.push_back(r.ptv_d95_gy), d2.push_back(r.ptv_d2_gy);
      ge80 += r.goals_pct() >= 80.0;
      if (r.sequenced) seq.push_back(r.goals_pct_sequenced()), seq_ge80 += r.goals_pct_sequenced() >= 80.0;
      for (const auto& [k, v] : r.oar) oar[k].push_back(v);
    }
    if (goals.empty()) continue;
    for (const auto& [k, v] : oar) oar_median[g][k] = median(v);
    summary[g] = {goals.size(), ge80, median(t), median(net), mean(goals), median(dd)};
    std::printf("| %s | %zu | %s | %s | %.1f | %.1f | %d | %.2f | %.2f | %.1f | %.1f | %.2f | %.2f |", g.c_str(),
                goals.size(), fmt(median(t), "%.3f").c_str(), fmt(mean(t), "%.3f").c_str(), median(goals), mean(goals),
                ge80, median(dd), mean(dd), median(gamma), mean(gamma), median(d95), median(d2));
    if (o.sequence) std::printf(" %s | %s | %d |", fmt(median(seq), "%.1f").c_str(), fmt(mean(seq), "%.1f").c_str(), seq_ge80);
    std::printf("\n");
  }
  for (const auto& [g, why] : skipped) std::printf("| %s | skipped: %s |\n", g.c_str(), why.c_str());

  if (!oar_names.empty()) {
    std::printf("\n## Rectum and bladder goal metrics per generator (medians over patients; %% of the organ)\n\n| generator |");
    for (const std::string& k : oar_names) std::printf(" %s |", k.c_str());
    std::printf("\n|---|");
    for (size_t k = 0; k < oar_names.size(); ++k) std::printf("---|");
    std::printf("\n");
  }
  for (const std::string& g : generators) {
    if (!oar_median.count(g)) continue;
    const auto& m = oar_median.at(g);
    std::printf("| %s |", g.c_str());
    for (const std::string& k : oar_names) std::printf(" %s |", m.count(k) ? fmt(m.at(k), "%.1f").c_str() : "–");
    std::printf("\n");
  }

  if (!diversity.empty()) {
    std::printf("\n## Sample diversity over %d noise seeds (0..%d): min–max (std)\n\n| patient | generator | seeds |",
                o.diversity_seeds, o.diversity_seeds - 1);
    for (const std::string& n : diversity.front().names) std::printf(" %s |", n.c_str());
    std::printf("\n|---|---|---|");
    for (size_t k = 0; k < diversity.front().names.size(); ++k) std::printf("---|");
    std::printf("\n");
    for (const Diversity& d : diversity) print_diversity(d);
    std::printf("\nSummary (median over patients of the per-patient range and std):\n\n| generator | metric | range median | std median |\n|---|---|---|---|\n");
    for (const std::string& g : {std::string("fmd"), std::string("fmd-teacher")})
      for (size_t m = 0; m < diversity.front().names.size(); ++m) {
        std::vector<double> range, sd;
        for (const Diversity& d : diversity)
          if (d.generator == g && m < d.values.size()) {
            const auto [lo, hi] = std::minmax_element(d.values[m].begin(), d.values[m].end());
            range.push_back(*hi - *lo), sd.push_back(stddev(d.values[m]));
          }
        if (!range.empty())
          std::printf("| %s | %s | %.2f | %.2f |\n", g.c_str(), diversity.front().names[m].c_str(), median(range), median(sd));
      }
  }

  // The targets, from the rows above (a missing row: no verdict).
  std::printf("\n## Targets (issue 12)\n\n| target | value | verdict |\n|---|---|---|\n");
  auto verdict = [](bool ok) { return ok ? "met" : "not met"; };
  if (summary.count("fmd")) {
    const Summary& f = summary["fmd"];
    std::printf("| student generation <= 0.3 s (%d threads) | median %.3f s (network %s s), load average %.1f now | %s |\n",
                o.threads, f.generation_s_median, fmt(f.network_s_median, "%.3f").c_str(), load_average(),
                verdict(f.generation_s_median <= 0.3));
    std::printf("| student before refinement meets >= 80 %% of the goals | mean %.1f %%, %d of %zu patients >= 80 %% | %s |\n",
                f.goals_pct_mean, f.ge80, f.patients, verdict(f.goals_pct_mean >= 80.0));
    if (summary.count("fmd-teacher")) {
      const double teacher = summary["fmd-teacher"].dd_median;
      std::printf("| student dose error within 10 %% of the teacher's | median abs dD %.2f vs %.2f %% Rx | %s |\n",
                  f.dd_median, teacher, verdict(f.dd_median <= 1.1 * teacher));
    }
    for (const char* other : {"fmd-regression", "open-field"})
      if (summary.count(other))
        std::printf("| student beats %s (goals met before refinement) | mean %.1f vs %.1f %% | %s |\n", other,
                    f.goals_pct_mean, summary[other].goals_pct_mean,
                    verdict(f.goals_pct_mean > summary[other].goals_pct_mean));
  } else {
    std::printf("| (no fmd row) | – | – |\n");
  }

  // Reference check: the classical row re-evaluates the reference's own fluence, so its
  // goals must agree with what the reference run recorded at the fluence level.
  // And the read fluence is the planner's normalised one: normalising it again scales by 1.
  int agree = 0, compared = 0;
  double worst_scale = 0;
  for (const GeneratorRow& r : rows)
    if (r.generator == "classical") {
      worst_scale = std::max(worst_scale, std::abs(r.normalisation_scale - 1.0));
      if (r.info.value("reference_summary_goals_fluence_level", -1) >= 0)
        ++compared, agree += r.goals_met == r.info["reference_summary_goals_fluence_level"].get<int>();
    }
  if (compared)
    std::printf("\nReference check: classical goals met here equal the reference summary's fluence-level count on %d "
                "of %d patients; largest |normalisation scale - 1| of the read reference fluence %.1e.\n",
                agree, compared, worst_scale);
  if (jsonl) std::fclose(jsonl);
  return 0;
}

int evaluation_main(int argc, char** argv) {
  EvaluationOptions o;
  CLI::App app{"bench_generator --evaluate: generators against the classical reference plans of a cohort"};
  bool evaluate = false;
  app.add_flag("--evaluate", evaluate, "Evaluation mode");
  app.add_option("--cohort", o.cohort, "Cohort manifest (vmatplan phantom --cohort)")->required();
  app.add_option("--reference", o.reference, "Its batch --training-set folder")->required();
  app.add_option("--generators", o.generators, "Generators (rows)")->delimiter(',');
  app.add_option("--weights", o.weights, "Model folder of the learned generators");
  app.add_option("--limit", o.limit, "The first N patients");
  app.add_option("--threads", o.threads, "Threads");
  app.add_option("--sampler-steps", o.sampler_steps, "fmd-teacher Heun steps");
  app.add_option("--diversity-seeds", o.diversity_seeds, "Noise seeds of fmd for the sample diversity");
  app.add_flag("--diversity-teacher", o.diversity_teacher, "Also the fmd-teacher's diversity");
  app.add_flag("--sequence", o.sequence, "Also run generate's sequencing + aperture optimisation");
  app.add_option("--jsonl", o.jsonl, "JSON row per patient and generator");
  app.add_flag("--resume", o.resume, "Keep the patients the JSONL file finished, run the others")->needs("--jsonl");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run_evaluation(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_generator: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--evaluate")) return evaluation_main(argc, argv);
  return timing_main(argc, argv);
}
