// The image-folder patient: ct.nii.gz + masks/NAME.nii.gz + structures.json (+ identity.json
// written by vmatplan, so that UIDs survive a round trip).
//
// structures.json: {"NAME": {"number": 1, "type": "PTV", "color": [r, g, b],
//                            "file": "masks/NAME.nii.gz"}}; every field optional. "file"
// is only needed when the mask's file name is not the structure name (the writer replaces
// characters that file systems refuse).
#include "vmatplan/patient/patient_checks.h"
#include "vmatplan/io/nifti_patient.h"

#include "vmatplan/patient/patient_checks.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "vmatplan/core/error.h"
#include "vmatplan/core/file_names.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kExtensions[] = {".nii.gz", ".nii", ".mha", ".nrrd"};

// The name without a supported image extension, or "" when it has none.
std::string stem_of_image(const std::string& filename) {
  std::string lower = filename;
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* ext : kExtensions) {
    const std::string e(ext);
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0)
      return filename.substr(0, filename.size() - e.size());
  }
  return "";
}

std::string find_ct_file(const std::string& dir) {
  for (const char* ext : kExtensions) {
    fs::path p = fs::path(dir) / (std::string("ct") + ext);
    if (fs::is_regular_file(p)) return p.string();
  }
  return "";
}

std::string describe(const ImageGrid& g) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lldx%lldx%lld at %gx%gx%g mm, origin (%g, %g, %g) %s",
                (long long)g.size[0], (long long)g.size[1], (long long)g.size[2],
                g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2], g.origin_mm[0],
                g.origin_mm[1], g.origin_mm[2], g.orientation_code().c_str());
  return buf;
}

json read_json(const fs::path& p) { return read_json_file(p.string()); }

// Interpreted type from the name when structures.json does not give one.
std::string guess_type(const std::string& name, const StructureRoles* roles) {
  const std::string role = roles ? roles->role_of(name) : "";
  if (role == "body") return "EXTERNAL";
  if (role == "ptv") return "PTV";
  if (role == "ctv") return "CTV";
  const std::string key = StructureRoles::normalize(name);
  if (key.rfind("ptv", 0) == 0) return "PTV";  // PTV_7000, PTVboost, ...
  if (key.rfind("ctv", 0) == 0) return "CTV";
  if (key.rfind("gtv", 0) == 0) return "GTV";
  return "ORGAN";
}

void read_identity(const fs::path& file, DicomIdentity& id) {
  json j = read_json(file);
  auto get = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_string()) throw InputError(file.string(), std::string("'") + key + "' must be a string");
    out = j[key].get<std::string>();
  };
  get("patient_id", id.patient_id);
  get("patient_name", id.patient_name);
  get("study_instance_uid", id.study_instance_uid);
  get("series_instance_uid", id.series_instance_uid);
  get("frame_of_reference_uid", id.frame_of_reference_uid);
  get("structure_set_sop_instance_uid", id.structure_set_sop_instance_uid);
  get("patient_position", id.patient_position);
}

void apply_entry(const json& e, const std::string& file, Structure& st) {
  try {
    if (e.contains("number")) st.number = e["number"].get<int>();
    if (e.contains("type")) st.type = e["type"].get<std::string>();
    if (e.contains("color")) {
      auto c = e["color"].get<std::vector<int>>();
      if (c.size() != 3) throw InputError(file, "colour of '" + st.name + "' needs 3 values");
      for (int a = 0; a < 3; ++a) st.color_rgb[a] = uint8_t(std::clamp(c[a], 0, 255));
    }
  } catch (const json::exception& ex) {
    throw InputError(file, "bad entry for '" + st.name + "': " + ex.what());
  }
}

}  // namespace

bool looks_like_image_folder(const std::string& dir) {
  return fs::is_directory(dir) && !find_ct_file(dir).empty();
}

Patient read_image_folder_patient(const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir, "is not a folder");
  const std::string ct_file = find_ct_file(dir);
  if (ct_file.empty()) throw InputError(dir, "no ct.nii.gz, ct.nii, ct.mha or ct.nrrd");
  Patient p;
  p.source = dir;
  p.ct_hu = read_image_float(ct_file);
  validate_ct(p.ct_hu, ct_file);  // a bad CT is blamed before any mask is compared with it

  // Mask files, keyed by structure name (file stem unless structures.json maps it).
  json meta = json::object();
  const fs::path meta_file = fs::path(dir) / "structures.json";
  if (fs::exists(meta_file)) meta = read_json(meta_file);
  std::map<std::string, std::string> name_of_file;  // file name -> structure name
  for (auto it = meta.begin(); it != meta.end(); ++it)
    if (it.value().is_object() && it.value().contains("file") && it.value()["file"].is_string())
      name_of_file[fs::path(it.value()["file"].get<std::string>()).filename().string()] = it.key();

  std::vector<std::pair<std::string, fs::path>> masks;  // (name, file)
  const fs::path mask_dir = fs::path(dir) / "masks";
  if (fs::is_directory(mask_dir)) {
    for (const auto& e : fs::directory_iterator(mask_dir)) {
      if (!e.is_regular_file()) continue;
      const std::string fname = e.path().filename().string();
      const std::string stem = stem_of_image(fname);
      if (stem.empty() || fname[0] == '.') continue;
      auto mapped = name_of_file.find(fname);
      masks.emplace_back(mapped != name_of_file.end() ? mapped->second : stem, e.path());
    }
  } else {
    p.warnings.push_back("no masks/ folder: the patient has no structures");
  }
  std::sort(masks.begin(), masks.end());

  std::unique_ptr<StructureRoles> roles;
  try {
    roles = std::make_unique<StructureRoles>(StructureRoles::load_default());
  } catch (const Error&) {
    p.warnings.push_back("structure_roles.json not found: structure types guessed from prefixes");
  }
  std::set<int> used_numbers;
  std::set<std::string> seen;
  for (auto& [name, file] : masks) {
    if (!seen.insert(name).second)
      throw InputError(file.string(), "a second mask for structure '" + name + "'");
    Structure st;
    st.name = name;
    st.mask = read_mask(file.string());
    if (!st.mask.grid.same_geometry(p.ct_hu.grid, 1e-3))
      throw InputError(file.string(), "mask is not on the CT grid: mask " +
                                          describe(st.mask.grid) + " vs CT " +
                                          describe(p.ct_hu.grid));
    st.type = guess_type(name, roles.get());
    if (meta.contains(name) && meta[name].is_object()) apply_entry(meta[name], meta_file.string(), st);
    if (st.number > 0) used_numbers.insert(st.number);
    p.structures.push_back(std::move(st));
  }
  int next = 1;
  for (auto& st : p.structures) {
    if (st.number > 0) continue;
    while (used_numbers.count(next)) ++next;
    st.number = next;
    used_numbers.insert(next);
  }
  for (auto it = meta.begin(); it != meta.end(); ++it)
    if (!seen.count(it.key()))
      p.warnings.push_back("structures.json names '" + it.key() + "' but it has no mask file");

  const fs::path id_file = fs::path(dir) / "identity.json";
  if (fs::exists(id_file)) read_identity(id_file, p.identity);
  const std::string folder = fs::path(dir).lexically_normal().filename().string();
  const std::string fallback = folder.empty() ? fs::absolute(dir).parent_path().filename().string() : folder;
  if (p.identity.patient_id.empty()) p.identity.patient_id = fallback;
  if (p.identity.patient_name.empty()) p.identity.patient_name = p.identity.patient_id;
  p.format = "image_folder";
  assign_content_uids(p);  // the same images give the same UIDs, load after load
  return p;
}

void write_image_folder_patient(const Patient& patient, const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir, "output folder does not exist");
  write_ct_int16(patient.ct_hu, (fs::path(dir) / "ct.nii.gz").string());
  const fs::path mask_dir = fs::path(dir) / "masks";
  std::error_code ec;
  fs::create_directories(mask_dir, ec);
  if (ec) throw InputError(mask_dir.string(), "cannot create folder: " + ec.message());

  json meta = json::object();
  std::set<std::string> used_files;
  for (const auto& st : patient.structures) {
    if (!st.mask.grid.same_geometry(patient.ct_hu.grid, 1e-3))
      throw ProcessingError("structure '" + st.name + "' is not on the CT grid; cannot write " + dir);
    std::string stem = safe_file_stem(st.name);
    // Names that differ only in characters replaced above must not share a file.
    for (int n = 2; used_files.count(stem); ++n) stem = safe_file_stem(st.name) + "_" + std::to_string(n);
    used_files.insert(stem);
    const std::string rel = "masks/" + stem + ".nii.gz";
    write_mask(st.mask, (fs::path(dir) / rel).string());
    json e = {{"number", st.number},
              {"type", st.type},
              {"color", {st.color_rgb[0], st.color_rgb[1], st.color_rgb[2]}}};
    if (stem != st.name) e["file"] = rel;
    meta[st.name] = e;
  }
  const auto& id = patient.identity;
  json ident = {{"patient_id", id.patient_id},
                {"patient_name", id.patient_name},
                {"study_instance_uid", id.study_instance_uid},
                {"series_instance_uid", id.series_instance_uid},
                {"frame_of_reference_uid", id.frame_of_reference_uid},
                {"structure_set_sop_instance_uid", id.structure_set_sop_instance_uid},
                {"patient_position", id.patient_position}};
  for (auto [name, j] : {std::pair<const char*, const json*>{"structures.json", &meta},
                         {"identity.json", &ident}}) {
    const fs::path f = fs::path(dir) / name;
    std::ofstream out(f);
    out << j->dump(2) << "\n";
    if (!out) throw InputError(f.string(), "cannot write");
  }
}

}  // namespace vmatplan
