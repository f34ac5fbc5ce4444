// vmatplan phantom: make one synthetic pelvis patient (or a cohort of them) and write it
// as DICOM (CT_*.dcm + RS.dcm) or as an image folder (NIfTI), with phantom.json holding
// the options and the generator's ground truth.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/io/dicom_patient_writer.h"
#include "vmatplan/io/nifti_patient.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_stats.h"

namespace vmatplan::cli {
namespace {
namespace fs = std::filesystem;

struct PhantomCommandOptions {
  PelvisPhantomOptions phantom;
  std::string out;
  std::string format = "dicom";
  std::vector<double> spacing_mm;  // X,Y,Z; empty = library default
  std::vector<double> fov_mm;
  int cohort = 0;                  // 0: one patient in --out; K: K patients under --out
  bool json = false;
  bool overwrite = false;
};

nlohmann::json vec(const Vec3& v) { return {v[0], v[1], v[2]}; }

nlohmann::json options_json(const PelvisPhantomOptions& o, const std::string& format) {
  return {{"seed", o.seed},
          {"spacing_mm", vec(o.spacing_mm)},
          {"field_of_view_mm", vec(o.field_of_view_mm)},
          {"ptv_margin_mm", o.ptv_margin_mm},
          {"patient_position", o.patient_position},
          {"noise_hu", o.noise_hu},
          {"format", format}};
}

// Makes and writes one phantom into dir (which exists); returns its summary.
nlohmann::json write_one(const PhantomCommandOptions& opt, uint64_t seed, const std::string& dir) {
  PelvisPhantomOptions po = opt.phantom;
  po.seed = seed;
  PhantomTruth truth;
  auto t0 = std::chrono::steady_clock::now();
  Patient p = make_pelvis_phantom(po, &truth);
  spdlog::debug("phantom seed {} made in {:.2f} s", seed,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  for (const auto& w : p.warnings) spdlog::warn("{}", w);
  if (opt.format == "dicom")
    write_dicom_patient(p, dir);
  else
    write_image_folder_patient(p, dir);

  nlohmann::json structures = nlohmann::json::object();
  for (const Structure& s : p.structures) {
    StructureStats st = compute_structure_stats(s.mask);
    structures[s.name] = {{"number", s.number},
                          {"type", s.type},
                          {"volume_cc", st.volume_cc},
                          {"centroid_mm", vec(st.centroid_mm)}};
  }
  const auto& g = p.ct_hu.grid;
  nlohmann::json j;
  j["id"] = p.identity.patient_id;
  j["seed"] = seed;
  j["options"] = options_json(po, opt.format);
  j["grid"] = {{"size", {g.size[0], g.size[1], g.size[2]}},
               {"spacing_mm", vec(g.spacing_mm)},
               {"origin_mm", vec(g.origin_mm)},
               {"direction", g.direction}};
  j["identity"] = {{"patient_id", p.identity.patient_id},
                   {"patient_name", p.identity.patient_name},
                   {"study_instance_uid", p.identity.study_instance_uid},
                   {"series_instance_uid", p.identity.series_instance_uid},
                   {"frame_of_reference_uid", p.identity.frame_of_reference_uid},
                   {"patient_position", p.identity.patient_position}};
  j["structures"] = structures;
  j["truth"] = {{"analytic_volume_cc", truth.analytic_volume_cc},
                {"parameters", truth.parameters}};
  const std::string path = (fs::path(dir) / "phantom.json").string();
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) throw InputError(path, "cannot write");
  return j;
}

void print_text(const nlohmann::json& j, const std::string& dir) {
  std::cout << j["id"].get<std::string>() << " -> " << dir << "\n";
  for (const auto& [name, s] : j["structures"].items())
    std::printf("  %-16s %-9s %9.2f cc\n", name.c_str(), s["type"].get<std::string>().c_str(),
                s["volume_cc"].get<double>());
}

int run_phantom(PhantomCommandOptions opt) {
  if (opt.format != "dicom" && opt.format != "nifti")
    throw UsageError("phantom: --format must be dicom or nifti, not '" + opt.format + "'");
  auto triple = [](const std::vector<double>& v, const char* flag, Vec3& dst) {
    if (v.empty()) return;
    if (v.size() != 3) throw UsageError(std::string("phantom: ") + flag + " needs X,Y,Z");
    for (double x : v)
      if (!(x > 0) || !std::isfinite(x))
        throw UsageError(std::string("phantom: ") + flag + ": expected three positive finite numbers in mm");
    dst = {v[0], v[1], v[2]};
  };
  triple(opt.spacing_mm, "--spacing", opt.phantom.spacing_mm);
  triple(opt.fov_mm, "--fov", opt.phantom.field_of_view_mm);
  if (opt.cohort < 0) throw UsageError("phantom: --cohort must be 0 or more");

  StagedOutput out(opt.out, StagedOutput::Kind::kDirectory, opt.overwrite);
  nlohmann::json summary;
  if (opt.cohort == 0) {
    summary = write_one(opt, opt.phantom.seed, out.path());
  } else {
    nlohmann::json cohort = {{"options", options_json(opt.phantom, opt.format)},
                             {"patients", nlohmann::json::array()}};
    for (int i = 0; i < opt.cohort; ++i) {
      const uint64_t seed = opt.phantom.seed + uint64_t(i);
      const std::string name = "phantom_" + std::to_string(seed);
      fs::create_directory(fs::path(out.path()) / name);
      nlohmann::json one = write_one(opt, seed, (fs::path(out.path()) / name).string());
      nlohmann::json volumes = nlohmann::json::object();
      for (const auto& [s, v] : one["structures"].items()) volumes[s] = v["volume_cc"];
      const auto& par = one["truth"]["parameters"];
      cohort["patients"].push_back({{"id", one["id"]},
                                    {"path", name},
                                    {"seed", seed},
                                    {"prostate_volume_cc", par["prostate_volume_cc"]},
                                    {"bladder_volume_cc", par["bladder_volume_cc"]},
                                    {"rectal_gas", par["rectal_gas"]},
                                    {"volume_cc", volumes}});
      spdlog::info("phantom {}/{}: {}", i + 1, opt.cohort, name);
    }
    const std::string path = (fs::path(out.path()) / "cohort.json").string();
    std::ofstream f(path);
    f << cohort.dump(2) << "\n";
    if (!f) throw InputError(path, "cannot write");
    summary = cohort;
  }
  out.commit();

  if (opt.json) {
    std::cout << summary.dump(2) << "\n";
  } else if (opt.cohort == 0) {
    print_text(summary, opt.out);
  } else {
    for (const auto& p : summary["patients"])
      std::cout << p["id"].get<std::string>() << " -> "
                << (fs::path(opt.out) / p["path"].get<std::string>()).string() << "\n";
  }
  return 0;
}

}  // namespace

Command register_phantom(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<PhantomCommandOptions>();
  CLI::App* sub = app.add_subcommand(
      "phantom", "Make a synthetic male pelvis patient (CT + structures) or a cohort");
  sub->add_option("--seed", opt->phantom.seed, "Random seed of the anatomy")->capture_default_str();
  sub->add_option("--out", opt->out, "Output folder (the patient, or the cohort)")->required();
  sub->add_option("--format", opt->format, "dicom (CT_*.dcm + RS.dcm) or nifti (image folder)")
      ->capture_default_str();
  sub->add_option("--spacing", opt->spacing_mm, "Voxel spacing X,Y,Z in mm (default 1,1,2.5)")
      ->delimiter(',');
  sub->add_option("--fov", opt->fov_mm, "Grid extent X,Y,Z in mm (default 420,320,200)")
      ->delimiter(',');
  sub->add_option("--margin", opt->phantom.ptv_margin_mm, "CTV to PTV margin in mm")
      ->capture_default_str();
  sub->add_option("--position", opt->phantom.patient_position, "HFS, FFS, HFP or FFP")
      ->capture_default_str();
  sub->add_option("--noise", opt->phantom.noise_hu, "Gaussian image noise (HU, sd)")
      ->capture_default_str();
  sub->add_option("--cohort", opt->cohort,
                  "Make K patients DIR/phantom_<seed+i>/ and DIR/cohort.json");
  sub->add_flag("--json", opt->json, "Print a JSON summary (structure volumes) to stdout");
  sub->add_flag("--overwrite", opt->overwrite, "Replace --out when it exists");
  return {sub, [opt] { return run_phantom(*opt); }};
}

}  // namespace vmatplan::cli
