// load_patient: one entry point for a matRad .mat file, an image folder, a DICOM folder or
// one DICOM file (then only its series is used).
#include "vmatplan/io/patient_loader.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "vmatplan/core/error.h"
#include "vmatplan/io/matrad_reader.h"
#include "vmatplan/io/nifti_patient.h"
#include "vmatplan/io/rtstruct_reader.h"
#include "vmatplan/patient/patient_checks.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;

bool has_mat_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mat";
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// RTSTRUCT files in the folder: those on the CT's frame of reference first (sorted by
// path), then the others (read_rtstruct accepts one that references the CT series itself).
std::vector<std::string> rtstruct_candidates(const std::vector<DicomSeriesInfo>& series,
                                            const std::string& frame_of_reference_uid,
                                            size_t* matching_count) {
  std::vector<std::string> matching, others;
  for (const auto& s : series) {
    if (s.modality != "RTSTRUCT") continue;
    for (const auto& f : s.files)
      (s.frame_of_reference_uid == frame_of_reference_uid ? matching : others).push_back(f);
  }
  std::sort(matching.begin(), matching.end());
  std::sort(others.begin(), others.end());
  *matching_count = matching.size();
  matching.insert(matching.end(), others.begin(), others.end());
  return matching;
}

// The structures of the first RTSTRUCT that belongs to the CT; a warning when several
// match or when one found in the folder does not belong to the CT.
std::vector<Structure> read_folder_rtstruct(const std::vector<DicomSeriesInfo>& series,
                                            const ImageGrid& grid, DicomIdentity* identity,
                                            std::vector<std::string>* warnings) {
  size_t matching = 0;
  auto files = rtstruct_candidates(series, identity->frame_of_reference_uid, &matching);
  if (files.empty()) {
    warnings->push_back("no RTSTRUCT for this CT: the patient has no structures");
    return {};
  }
  if (matching > 1)
    warnings->push_back("several RTSTRUCTs match the CT; using " + files.front() + " (others: " +
                        join({files.begin() + 1, files.begin() + matching}) +
                        "; choose one with --rtstruct)");
  if (matching > 0) return read_rtstruct(files.front(), grid, identity->frame_of_reference_uid,
                                         identity, warnings);
  // Only RTSTRUCTs on another frame of reference: one that references the CT series is
  // used (with a warning); otherwise the first one's refusal is the patient's (README).
  std::unique_ptr<InputError> first;
  for (const auto& f : files) {
    try {
      return read_rtstruct(f, grid, identity->frame_of_reference_uid, identity, warnings);
    } catch (const InputError& e) {
      if (!first) first = std::make_unique<InputError>(e);
    }
  }
  throw *first;
}

Patient load_dicom(const std::string& dir, const std::string& only_file,
                   PatientLoadOptions options) {
  // One scan serves the CT series, the RTSTRUCT search and the messages below.
  const DicomFolderScan scan = scan_dicom_folder_files(dir);
  const std::vector<DicomSeriesInfo>& series = scan.series;
  const int skipped = scan.skipped;
  std::vector<const DicomSeriesInfo*> cts;
  const DicomSeriesInfo* rtstruct_series = nullptr;
  for (const auto& s : series) {
    if (s.modality == "CT") cts.push_back(&s);
    if (s.modality == "RTSTRUCT") rtstruct_series = &s;
  }

  // A single file restricts loading to its series (its CT, or the CT its RTSTRUCT is on).
  if (!only_file.empty()) {
    const DicomSeriesInfo* own = nullptr;
    for (const auto& s : series)
      for (const auto& f : s.files)
        if (same_file(f, only_file)) own = &s;
    if (!own) throw InputError(only_file, "not a DICOM file, image folder or matRad .mat file");
    if (own->modality == "CT") {
      if (options.ct.series_uid.empty()) options.ct.series_uid = own->series_instance_uid;
    } else if (own->modality == "RTSTRUCT") {
      if (options.rtstruct_path.empty()) options.rtstruct_path = only_file;
      std::vector<const DicomSeriesInfo*> on_frame;
      for (const auto* ct : cts)
        if (ct->frame_of_reference_uid == own->frame_of_reference_uid) on_frame.push_back(ct);
      // Some tools give the RTSTRUCT a fresh frame of reference; with one CT in the folder,
      // read_rtstruct decides from the CT series it references.
      if (on_frame.empty() && cts.size() == 1) on_frame = cts;
      if (cts.empty()) throw InputError(only_file, "RTSTRUCT without its CT series in " + dir);
      if (options.ct.series_uid.empty() && on_frame.size() == 1)
        options.ct.series_uid = on_frame.front()->series_instance_uid;
    } else {
      throw InputError(only_file, "a " + own->modality + " file, not a CT or RTSTRUCT");
    }
  }

  if (cts.empty()) {
    if (rtstruct_series) throw InputError(dir, "RTSTRUCT without its CT series");
    throw InputError(dir, "no CT series, image folder (ct.nii.gz + masks/) or matRad file" +
                              (skipped ? " (" + std::to_string(skipped) + " non-DICOM files)"
                                       : std::string()));
  }
  if (cts.size() > 1 && options.ct.series_uid.empty()) {
    std::vector<std::string> uids;
    for (const auto* s : cts)
      uids.push_back(s->series_instance_uid +
                     (s->description.empty() ? "" : " '" + s->description + "'"));
    throw InputError(dir, std::to_string(cts.size()) + " CT series, choose one with --series: " +
                              join(uids));
  }

  Patient p;
  p.format = "dicom";
  p.source = only_file.empty() ? dir : only_file;
  p.ct_hu = read_ct_series(dir, scan, options.ct, &p.identity, &p.warnings);
  validate_ct(p.ct_hu, p.source);
  const std::string& rs = options.rtstruct_path;
  if (!rs.empty())
    p.structures = read_rtstruct(rs, p.ct_hu.grid, p.identity.frame_of_reference_uid,
                                 &p.identity, &p.warnings);
  else
    p.structures = read_folder_rtstruct(series, p.ct_hu.grid, &p.identity, &p.warnings);
  return p;
}

}  // namespace

Patient load_patient(const std::string& path, const PatientLoadOptions& options) {
  if (path.empty()) throw InputError("(empty path)", "no patient path given");
  if (!fs::exists(path)) throw InputError(path, "does not exist");
  if (!options.rtstruct_path.empty() && !fs::is_regular_file(options.rtstruct_path))
    throw InputError(options.rtstruct_path, "does not exist");
  Patient p;
  if (fs::is_regular_file(path) && has_mat_extension(path)) {
    p = read_matrad_patient(path);
  } else if (fs::is_directory(path) && looks_like_image_folder(path)) {
    p = read_image_folder_patient(path);
  } else if (fs::is_directory(path)) {
    p = load_dicom(path, "", options);
  } else if (fs::is_regular_file(path)) {
    fs::path parent = fs::path(path).parent_path();
    p = load_dicom(parent.empty() ? "." : parent.string(), path, options);
  } else {
    throw InputError(path, "neither a file nor a folder");
  }
  p.source = path;
  validate_patient(p, path);
  return p;
}

}  // namespace vmatplan
