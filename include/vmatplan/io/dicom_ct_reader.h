#pragma once
// Reading DICOM CT series.
//
//   auto series = scan_dicom_folder(dir);                 // every series found
//   CtImage ct = read_ct_series(dir, opts, &identity, &warnings);
//
//   DicomFolderScan scan = scan_dicom_folder_files(dir);  // a folder read once ...
//   CtImage ct = read_ct_series(dir, scan, opts, &identity, &warnings);  // ... then its CT
#include <string>
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DicomSeriesInfo {
  std::string series_instance_uid;
  std::string modality;             // CT, RTSTRUCT, RTPLAN, RTDOSE, ...
  std::string description;
  std::string frame_of_reference_uid;
  std::vector<std::string> files;   // every file of the series
};

// All DICOM series under a folder (recursively). Non-DICOM files are skipped and counted
// into *skipped when given. Throws InputError when the folder does not exist.
std::vector<DicomSeriesInfo> scan_dicom_folder(const std::string& dir, int* skipped = nullptr);

// A folder scan with what read_ct_series reports about it: a caller that needs the series
// (e.g. to find the RTSTRUCT) scans once and passes the scan on, so that no file's header
// is read twice for the listing.
struct DicomFolderScan {
  std::vector<DicomSeriesInfo> series;
  int skipped = 0;                      // files that are not DICOM series objects
  std::vector<std::string> unreadable;  // "file: reason" for DICOM files that cannot be parsed
  int dicom_files = 0;
};
DicomFolderScan scan_dicom_folder_files(const std::string& dir);

struct CtReadOptions {
  std::string series_uid;                 // required when the folder has several CT series
  double slice_spacing_tolerance_mm = 0.01;
  // Non-uniform slice spacing is refused unless this is set; then the series is resampled
  // onto a uniform grid at the smallest spacing found (linear interpolation).
  bool resample_nonuniform = false;
};

// The CT series of dir (or of the folder holding the given file) as HU on an ImageGrid
// with the series' orientation. Fills identity (patient, study, series, frame of
// reference, patient position) and appends warnings. Throws InputError naming the folder
// or file for: no CT series, several CT series without series_uid (the message lists
// them), a single slice, gantry tilt, missing slices, non-uniform spacing, unreadable
// pixel data.
CtImage read_ct_series(const std::string& dir, const CtReadOptions& options,
                       DicomIdentity* identity, std::vector<std::string>* warnings);
// The same from a scan of the folder dir (scan_dicom_folder_files(dir)).
CtImage read_ct_series(const std::string& dir, const DicomFolderScan& scan,
                       const CtReadOptions& options, DicomIdentity* identity,
                       std::vector<std::string>* warnings);

}  // namespace vmatplan
