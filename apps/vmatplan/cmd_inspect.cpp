// vmatplan inspect: load a patient (DICOM folder, image folder or matRad .mat) and report
// its grid, identity and structures; optionally export every mask as NIfTI.
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/file_names.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/patient/structure_roles.h"
#include "vmatplan/patient/structure_stats.h"

namespace vmatplan::cli {
namespace {

struct InspectOptions {
  std::string patient;
  std::string series_uid;
  bool resample_slices = false;
  std::string rtstruct;
  bool json = false;
  std::string export_masks_dir;
  bool overwrite = false;
};

struct Row {
  const Structure* s;
  std::string role;
  StructureStats st;
};

nlohmann::json vec(const Vec3& v) { return {v[0], v[1], v[2]}; }

nlohmann::json to_json(const Patient& p, const std::vector<Row>& rows) {
  const auto& g = p.ct_hu.grid;
  nlohmann::json j;
  j["source"] = p.source;
  j["grid"] = {{"size", {g.size[0], g.size[1], g.size[2]}},
               {"spacing_mm", vec(g.spacing_mm)},
               {"origin_mm", vec(g.origin_mm)},
               {"direction", g.direction},
               {"orientation", g.orientation_code()}};
  j["patient_position"] = p.identity.patient_position;
  const auto& id = p.identity;
  j["identity"] = {{"patient_id", id.patient_id},
                   {"patient_name", id.patient_name},
                   {"study_instance_uid", id.study_instance_uid},
                   {"series_instance_uid", id.series_instance_uid},
                   {"frame_of_reference_uid", id.frame_of_reference_uid},
                   {"structure_set_sop_instance_uid", id.structure_set_sop_instance_uid}};
  j["structures"] = nlohmann::json::array();
  for (const auto& r : rows)
    j["structures"].push_back({{"name", r.s->name},
                               {"number", r.s->number},
                               {"type", r.s->type},
                               {"role", r.role},
                               {"voxels", r.st.voxel_count},
                               {"volume_cc", r.st.volume_cc},
                               {"centroid_mm", vec(r.st.centroid_mm)},
                               {"bbox_min_mm", vec(r.st.bbox_min_mm)},
                               {"bbox_max_mm", vec(r.st.bbox_max_mm)}});
  j["warnings"] = p.warnings;
  return j;
}

std::string fmt3(const Vec3& v, const char* f = "%.2f") {
  std::string s = "(";
  char buf[64];
  for (int a = 0; a < 3; ++a) {
    std::snprintf(buf, sizeof buf, f, v[a]);
    s += buf;
    s += a < 2 ? ", " : ")";
  }
  return s;
}

void print_text(const Patient& p, const std::vector<Row>& rows) {
  const auto& g = p.ct_hu.grid;
  const auto& id = p.identity;
  auto& o = std::cout;
  o << "patient   " << p.source << "\n";
  o << "grid      " << g.size[0] << " x " << g.size[1] << " x " << g.size[2] << " voxels, spacing "
    << fmt3(g.spacing_mm, "%g") << " mm\n";
  o << "origin    " << fmt3(g.origin_mm) << " mm (LPS)\n";
  o << "direction " << fmt3(g.axis(0), "%g") << " " << fmt3(g.axis(1), "%g") << " "
    << fmt3(g.axis(2), "%g") << " (" << g.orientation_code() << ")\n";
  o << "position  " << id.patient_position << "\n";
  o << "identity  id '" << id.patient_id << "', name '" << id.patient_name << "'\n";
  o << "          study " << id.study_instance_uid << "\n";
  o << "          series " << id.series_instance_uid << "\n";
  o << "          frame of reference " << id.frame_of_reference_uid << "\n";
  if (!id.structure_set_sop_instance_uid.empty())
    o << "          structure set " << id.structure_set_sop_instance_uid << "\n";
  o << "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%4s  %-24s %-9s %-20s %10s  %-28s %s\n", "#", "name", "type",
                "role", "volume_cc", "centroid_mm", "bbox_mm (min .. max)");
  o << line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%4d  %-24s %-9s %-20s %10.3f  %-28s %s .. %s\n",
                  r.s->number, r.s->name.c_str(), r.s->type.c_str(),
                  r.role.empty() ? "-" : r.role.c_str(), r.st.volume_cc,
                  fmt3(r.st.centroid_mm, "%.1f").c_str(), fmt3(r.st.bbox_min_mm, "%.1f").c_str(),
                  fmt3(r.st.bbox_max_mm, "%.1f").c_str());
    o << line;
  }
  if (rows.empty()) o << "      (no structures)\n";
  if (!p.warnings.empty()) {
    o << "\nwarnings:\n";
    for (const auto& w : p.warnings) o << "  - " << w << "\n";
  }
}

// Every mask as DIR/NAME.nii.gz, staged so a failure leaves nothing behind.
void export_masks(const Patient& p, const std::string& dir, bool overwrite) {
  StagedOutput out(dir, StagedOutput::Kind::kDirectory, overwrite);
  std::set<std::string> used;
  for (const auto& s : p.structures) {
    std::string stem = safe_file_stem(s.name);
    for (int n = 2; used.count(stem); ++n) stem = safe_file_stem(s.name) + "_" + std::to_string(n);
    used.insert(stem);
    write_mask(s.mask, out.path() + "/" + stem + ".nii.gz");
  }
  out.commit();
}

int run_inspect(const InspectOptions& opt) {
  check_output_separate("--export-masks", opt.export_masks_dir,
                        {{"--patient", opt.patient}, {"--rtstruct", opt.rtstruct}});
  if (!opt.export_masks_dir.empty()) check_output_writable(opt.export_masks_dir, opt.overwrite, false);
  PatientLoadOptions load;
  load.ct.series_uid = opt.series_uid;
  load.ct.resample_nonuniform = opt.resample_slices;
  load.rtstruct_path = opt.rtstruct;
  Patient p = load_patient(opt.patient, load);

  std::unique_ptr<StructureRoles> roles;
  try {
    roles = std::make_unique<StructureRoles>(StructureRoles::load_default());
  } catch (const Error& e) {
    p.warnings.push_back(std::string("structure roles unavailable: ") + e.what());
  }
  std::vector<Row> rows;
  for (const auto& s : p.structures)
    rows.push_back({&s, roles ? roles->role_of(s.name) : "", compute_structure_stats(s.mask)});

  // Masks first: a failed export must not leave a report on stdout.
  if (!opt.export_masks_dir.empty()) {
    export_masks(p, opt.export_masks_dir, opt.overwrite);
    spdlog::info("wrote {} masks to {}", p.structures.size(), opt.export_masks_dir);
  }
  if (opt.json)
    std::cout << to_json(p, rows).dump(2) << "\n";
  else
    print_text(p, rows);
  return 0;
}

}  // namespace

Command register_inspect(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand(
      "inspect", "Load a patient and show its grid, identity and structures");
  sub->add_option("--patient", opt->patient,
                  "DICOM folder or file, image folder (ct.nii.gz + masks/) or matRad .mat")
      ->required();
  sub->add_option("--series", opt->series_uid,
                  "CT SeriesInstanceUID, when the folder holds several CT series");
  sub->add_option("--rtstruct", opt->rtstruct,
                  "RTSTRUCT file to use (default: the one on the CT's frame of reference)");
  sub->add_flag("--resample-slices", opt->resample_slices,
                "Resample a CT with non-uniform spacing or missing slices onto a uniform grid "
                "(linear, at the smallest spacing) instead of refusing it");
  sub->add_flag("--json", opt->json, "Print JSON instead of text");
  sub->add_option("--export-masks", opt->export_masks_dir,
                  "Write every structure's mask as DIR/NAME.nii.gz");
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing --export-masks folder");
  return {sub, [opt] { return run_inspect(*opt); }};
}

}  // namespace vmatplan::cli
