#include "vmatplan/io/dicom_ct_reader.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/core/vec3.h"

namespace vmatplan {
namespace fs = std::filesystem;
namespace {

const double kRadToDeg = 57.29577951308232;

// Once per process: RLE decoding (the only codec in dcmdata) and no DCMTK console logging,
// since the library reports every problem itself, as one InputError line.
void init_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    DcmRLEDecoderRegistration::registerCodecs();
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::OFF_LOG_LEVEL);
  });
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string get_string(DcmItem* item, const DcmTagKey& tag) {
  OFString s;
  if (item->findAndGetOFStringArray(tag, s).good()) return s.c_str();
  return "";
}

// Trims the padding of DS/CS/UI values.
std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

bool has_dicm_preamble(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char buf[132];
  if (!f.read(buf, 132)) return false;
  return std::memcmp(buf + 128, "DICM", 4) == 0;  // PS3.10 section 7.1
}

struct FileScan {
  enum Kind { kNotDicom, kUnreadable, kDicom } kind = kNotDicom;
  std::string reason;  // for kUnreadable
  std::string series_uid, modality, description, frame_of_reference_uid;
};

FileScan scan_file(const std::string& path) {
  FileScan r;
  const bool preamble = has_dicm_preamble(path);
  DcmFileFormat ff;
  // The header only; pixel data (7FE0,0010) is not read.
  OFCondition cond = ff.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange,
                                         DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
  if (cond.bad()) {
    // A file that says it is DICOM but cannot be parsed is reported, not silently dropped.
    // Its partial dataset is not looked at: an element there may claim more bytes than the
    // file holds, and reading it would allocate that much (found by fuzz_ct_slice).
    if (preamble) {
      r.kind = FileScan::kUnreadable;
      r.reason = cond.text();
    }
    return r;
  }
  DcmDataset* ds = ff.getDataset();
  r.series_uid = trim(get_string(ds, DCM_SeriesInstanceUID));
  r.modality = trim(get_string(ds, DCM_Modality));
  if (r.series_uid.empty() || r.modality.empty()) return r;  // DICOMDIR, other non-series objects
  r.kind = FileScan::kDicom;
  r.description = trim(get_string(ds, DCM_SeriesDescription));
  r.frame_of_reference_uid = trim(get_string(ds, DCM_FrameOfReferenceUID));
  return r;
}

using FolderScan = DicomFolderScan;

FolderScan scan_folder(const std::string& dir) {
  init_dcmtk();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir, "folder does not exist");
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  if (ec) throw InputError(dir, "cannot list folder: " + ec.message());
  std::sort(files.begin(), files.end());

  std::vector<FileScan> scans(files.size());
  parallel_for(static_cast<long>(files.size()), [&](long b, long e) {
    for (long n = b; n < e; ++n) scans[n] = scan_file(files[n]);
  });

  FolderScan out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (size_t n = 0; n < files.size(); ++n) {
    const FileScan& s = scans[n];
    if (s.kind != FileScan::kDicom) {
      ++out.skipped;
      if (s.kind == FileScan::kUnreadable) out.unreadable.push_back(files[n] + ": " + s.reason);
      continue;
    }
    ++out.dicom_files;
    auto key = std::make_pair(s.series_uid, s.modality);
    auto found = index.find(key);
    if (found == index.end()) {
      found = index.emplace(key, out.series.size()).first;
      DicomSeriesInfo info;
      info.series_instance_uid = s.series_uid;
      info.modality = s.modality;
      info.description = s.description;
      info.frame_of_reference_uid = s.frame_of_reference_uid;
      out.series.push_back(info);
    }
    out.series[found->second].files.push_back(files[n]);
  }
  return out;
}

// What one CT slice says about its geometry (PS3.3 C.7.6.2 Image Plane Module).
struct SliceHeader {
  std::string file;
  int rows = 0, cols = 0;
  Vec3 position{0, 0, 0};
  std::array<double, 6> orientation{};
  double spacing_row_mm = 0, spacing_col_mm = 0;  // PixelSpacing: between rows, columns
  double s_mm = 0;                                 // position along the slice normal
};

std::vector<double> get_doubles(DcmItem* ds, const DcmTagKey& tag, int n) {
  std::vector<double> v;
  for (int a = 0; a < n; ++a) {
    Float64 x;
    if (ds->findAndGetFloat64(tag, x, a).bad()) return {};
    v.push_back(x);
  }
  return v;
}

SliceHeader read_slice_header(const std::string& path) {
  DcmFileFormat ff;
  OFCondition cond = ff.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange,
                                         DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
  if (cond.bad()) throw InputError(path, std::string("cannot read DICOM header: ") + cond.text());
  DcmDataset* ds = ff.getDataset();
  SliceHeader h;
  h.file = path;
  Uint16 rows = 0, cols = 0;
  ds->findAndGetUint16(DCM_Rows, rows);
  ds->findAndGetUint16(DCM_Columns, cols);
  h.rows = rows;
  h.cols = cols;
  if (rows == 0 || cols == 0) throw InputError(path, "no Rows/Columns: not an image");
  // Uncompressed pixel data must fit in the file: checked here, before the series' image is
  // allocated from Rows x Columns (65535 x 65535 made that 8 GB per slice).
  Uint16 bits_alloc = 16;
  ds->findAndGetUint16(DCM_BitsAllocated, bits_alloc);
  const uint64_t pixel_bytes = uint64_t{rows} * cols * std::max<Uint16>(bits_alloc, 8) / 8;
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (!DcmXfer(ds->getOriginalXfer()).isEncapsulated() && !ec && file_bytes < pixel_bytes)
    throw InputError(path, "Rows x Columns (" + std::to_string(rows) + " x " + std::to_string(cols) +
                               ") need " + std::to_string(pixel_bytes) + " bytes of pixel data; the file has " +
                               std::to_string(file_bytes));
  Sint32 frames = 1;
  ds->findAndGetSint32(DCM_NumberOfFrames, frames);
  if (frames > 1) throw InputError(path, "multi-frame (enhanced) CT is not supported");
  std::vector<double> ipp = get_doubles(ds, DCM_ImagePositionPatient, 3);
  std::vector<double> iop = get_doubles(ds, DCM_ImageOrientationPatient, 6);
  std::vector<double> ps = get_doubles(ds, DCM_PixelSpacing, 2);
  if (ipp.empty()) throw InputError(path, "no ImagePositionPatient (0020,0032)");
  if (iop.empty()) throw InputError(path, "no ImageOrientationPatient (0020,0037)");
  if (ps.empty() || !(ps[0] > 0) || !(ps[1] > 0) || !std::isfinite(ps[0]) || !std::isfinite(ps[1]))
    throw InputError(path, "no valid PixelSpacing (0028,0030): two positive finite numbers expected");
  for (double v : ipp)
    if (!std::isfinite(v)) throw InputError(path, "ImagePositionPatient (0020,0032) is not finite");
  for (double v : iop)
    if (!std::isfinite(v)) throw InputError(path, "ImageOrientationPatient (0020,0037) is not finite");
  std::copy(ipp.begin(), ipp.end(), h.position.begin());
  std::copy(iop.begin(), iop.end(), h.orientation.begin());
  h.spacing_row_mm = ps[0];
  h.spacing_col_mm = ps[1];
  return h;
}

// HU of one slice, written into dst (rows * cols floats, row-major like the pixel data).
void read_slice_pixels(const std::string& path, int rows, int cols, float* dst) {
  DcmFileFormat ff;
  OFCondition cond = ff.loadFile(path.c_str());
  if (cond.bad()) throw InputError(path, std::string("cannot read DICOM file: ") + cond.text());
  DcmDataset* ds = ff.getDataset();
  const DcmXfer xfer(ds->getOriginalXfer());
  if (xfer.isEncapsulated() &&
      ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad())
    throw InputError(path, std::string("compressed transfer syntax ") + xfer.getXferName() +
                               " (" + xfer.getXferID() + ") not supported");
  Uint16 bits_alloc = 0, bits_stored = 0, pixel_rep = 0, samples = 1;
  ds->findAndGetUint16(DCM_BitsAllocated, bits_alloc);
  if (ds->findAndGetUint16(DCM_BitsStored, bits_stored).bad()) bits_stored = bits_alloc;
  ds->findAndGetUint16(DCM_PixelRepresentation, pixel_rep);
  ds->findAndGetUint16(DCM_SamplesPerPixel, samples);
  if (samples != 1) throw InputError(path, "SamplesPerPixel is not 1: not a CT image");
  if (bits_alloc != 16 && bits_alloc != 8)
    throw InputError(path, "BitsAllocated " + std::to_string(bits_alloc) + " not supported");
  // Modality LUT (PS3.3 C.11.1): HU = slope * stored value + intercept.
  Float64 slope = 1.0, intercept = 0.0;
  if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).bad()) slope = 1.0;
  if (ds->findAndGetFloat64(DCM_RescaleIntercept, intercept).bad()) intercept = 0.0;
  if (!std::isfinite(slope) || slope == 0.0 || !std::isfinite(intercept))
    throw InputError(path, "RescaleSlope / RescaleIntercept (0028,1053 / 0028,1052) is not a usable "
                           "number (slope " + std::to_string(slope) + ", intercept " +
                               std::to_string(intercept) + ")");

  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  unsigned long count = 0;
  const int bits = std::clamp<int>(bits_stored, 1, bits_alloc);
  const uint32_t mask = bits >= 32 ? 0xffffffffu : ((1u << bits) - 1u);
  const int32_t sign_bit = 1 << (bits - 1);
  auto convert = [&](uint32_t raw) {
    int32_t v = static_cast<int32_t>(raw & mask);
    if (pixel_rep == 1 && (v & sign_bit)) v -= (sign_bit << 1);  // two's complement
    return static_cast<float>(slope * v + intercept);
  };
  if (bits_alloc == 16) {
    const Uint16* px = nullptr;
    cond = ds->findAndGetUint16Array(DCM_PixelData, px, &count);
    if (cond.bad() || px == nullptr)
      throw InputError(path, std::string("cannot read pixel data: ") + cond.text());
    if (count < n) throw InputError(path, "pixel data shorter than Rows x Columns (truncated file?)");
    for (size_t p = 0; p < n; ++p) dst[p] = convert(px[p]);
  } else {
    const Uint8* px = nullptr;
    cond = ds->findAndGetUint8Array(DCM_PixelData, px, &count);
    if (cond.bad() || px == nullptr)
      throw InputError(path, std::string("cannot read pixel data: ") + cond.text());
    if (count < n) throw InputError(path, "pixel data shorter than Rows x Columns (truncated file?)");
    for (size_t p = 0; p < n; ++p) dst[p] = convert(px[p]);
  }
}

// Runs body(n) for n in [0, count) on the library's threads; rethrows the first error in
// file order (threads cannot throw across join).
template <class Body>
void for_each_file(size_t count, Body body) {
  std::vector<std::string> errors(count);
  std::vector<std::string> error_paths(count);
  parallel_for(static_cast<long>(count), [&](long b, long e) {
    for (long n = b; n < e; ++n) {
      try {
        body(static_cast<size_t>(n));
      } catch (const InputError& err) {
        error_paths[n] = err.path();
        errors[n] = err.problem();
      } catch (const std::exception& err) {
        errors[n] = err.what();
      }
    }
  });
  for (size_t n = 0; n < count; ++n)
    if (!errors[n].empty()) throw InputError(error_paths[n], errors[n]);
}

std::string describe_series(const DicomSeriesInfo& s) {
  std::string d = s.series_instance_uid + " (" + std::to_string(s.files.size()) + " slices";
  if (!s.description.empty()) d += ", \"" + s.description + "\"";
  return d + ")";
}

std::string list_series(const std::vector<const DicomSeriesInfo*>& cts) {
  std::string l;
  for (const DicomSeriesInfo* s : cts) l += (l.empty() ? "" : "; ") + describe_series(*s);
  return l;
}

const DicomSeriesInfo& choose_ct_series(const std::string& dir, const FolderScan& scan,
                                        const std::string& series_uid) {
  std::vector<const DicomSeriesInfo*> cts;
  for (const auto& s : scan.series)
    if (s.modality == "CT") cts.push_back(&s);
  if (cts.empty()) {
    if (scan.dicom_files == 0) {
      std::string why = "no DICOM files found";
      if (scan.skipped > 0) why += " (" + std::to_string(scan.skipped) + " other files skipped)";
      if (!scan.unreadable.empty()) why += "; unreadable: " + scan.unreadable.front();
      throw InputError(dir, why);
    }
    std::string found;
    for (const auto& s : scan.series) found += (found.empty() ? "" : ", ") + s.modality;
    std::string why = "no CT series found (found " + found + ")";
    if (!scan.unreadable.empty())
      why += "; " + std::to_string(scan.unreadable.size()) + " unreadable DICOM file(s), first " +
             scan.unreadable.front();
    throw InputError(dir, why);
  }
  if (!series_uid.empty()) {
    for (const DicomSeriesInfo* s : cts)
      if (s->series_instance_uid == series_uid) return *s;
    throw InputError(dir, "no CT series with UID " + series_uid + "; CT series here: " + list_series(cts));
  }
  if (cts.size() > 1)
    throw InputError(dir, std::to_string(cts.size()) + " CT series; choose one with --series: " +
                              list_series(cts));
  return *cts.front();
}

// Sorted slices -> grid spacing along the normal; refuses or plans resampling.
struct SliceLayout {
  double spacing_mm = 0;  // of the output grid
  int64_t count = 0;      // output slices
  bool resample = false;
};

SliceLayout check_slice_positions(const std::string& dir, const std::vector<SliceHeader>& h,
                                  const Vec3& normal, const CtReadOptions& options,
                                  std::vector<std::string>* warnings) {
  const size_t n = h.size();
  // Duplicates.
  for (size_t a = 0; a + 1 < n; ++a)
    if (h[a + 1].s_mm - h[a].s_mm < 1e-3)
      throw InputError(dir, "two slices at the same position " + fmt("%.3f", h[a].s_mm) +
                                " mm along the slice normal (" + fs::path(h[a].file).filename().string() +
                                ", " + fs::path(h[a + 1].file).filename().string() + ")");
  // Gantry tilt: positions must move along the normal (PS3.3 C.7.6.2.1.1).
  double worst_lateral = 0.0;
  size_t worst = 0;
  for (size_t a = 1; a < n; ++a) {
    Vec3 d{h[a].position[0] - h[0].position[0], h[a].position[1] - h[0].position[1],
           h[a].position[2] - h[0].position[2]};
    const double along = dot(d, normal);
    Vec3 lat{d[0] - along * normal[0], d[1] - along * normal[1], d[2] - along * normal[2]};
    const double l = std::sqrt(dot(lat, lat));
    if (l > worst_lateral) worst_lateral = l, worst = a;
  }
  if (worst_lateral > 0.1) {
    const double angle = std::atan2(worst_lateral, h[worst].s_mm - h[0].s_mm) * kRadToDeg;
    throw InputError(dir, "gantry tilt of " + fmt("%.2f", angle) +
                              " degrees (slice positions not along the slice normal): not supported");
  }
  std::vector<double> gaps(n - 1);
  for (size_t a = 0; a + 1 < n; ++a) gaps[a] = h[a + 1].s_mm - h[a].s_mm;
  std::vector<double> sorted = gaps;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double typical = sorted[sorted.size() / 2];
  const double tol = options.slice_spacing_tolerance_mm;
  const double min_gap = *std::min_element(gaps.begin(), gaps.end());
  const double max_gap = *std::max_element(gaps.begin(), gaps.end());
  int missing_gaps = 0, odd_gaps = 0;
  size_t first_missing = 0;
  for (size_t a = 0; a < gaps.size(); ++a) {
    if (std::abs(gaps[a] - typical) <= tol) continue;
    const double ratio = gaps[a] / typical;
    const double whole = std::round(ratio);
    if (whole >= 2 && std::abs(gaps[a] - whole * typical) <= std::max(tol, 0.05 * typical)) {
      if (missing_gaps++ == 0) first_missing = a;
    } else {
      ++odd_gaps;
    }
  }
  SliceLayout layout;
  layout.spacing_mm = typical;
  layout.count = static_cast<int64_t>(n);
  if (missing_gaps == 0 && odd_gaps == 0) return layout;
  if (!options.resample_nonuniform) {
    if (missing_gaps > 0) {
      const size_t a = first_missing;
      const int lost = static_cast<int>(std::lround(gaps[a] / typical)) - 1;
      std::string msg = "missing slice(s): gap of " + fmt("%.2f", gaps[a]) + " mm between " +
                        fs::path(h[a].file).filename().string() + " and " +
                        fs::path(h[a + 1].file).filename().string() + " (at " +
                        fmt("%.2f", h[a].s_mm) + " mm along the normal; typical spacing " +
                        fmt("%.2f", typical) + " mm, " + std::to_string(lost) + " slice(s) missing)";
      if (missing_gaps > 1) msg += " and " + std::to_string(missing_gaps - 1) + " more gap(s)";
      throw InputError(dir, msg);
    }
    throw InputError(dir, "non-uniform slice spacing (" + fmt("%.3f", min_gap) + " to " +
                              fmt("%.3f", max_gap) + " mm, tolerance " + fmt("%.3f", tol) +
                              " mm); enable resampling of non-uniform series to load it");
  }
  const double length = h[n - 1].s_mm - h[0].s_mm;
  layout.resample = true;
  layout.spacing_mm = min_gap;
  layout.count = static_cast<int64_t>(std::floor(length / min_gap + 1e-3)) + 1;
  if (warnings)
    warnings->push_back(dir + ": non-uniform slice spacing (" + fmt("%.3f", min_gap) + " to " +
                        fmt("%.3f", max_gap) + " mm" +
                        (missing_gaps ? ", " + std::to_string(missing_gaps) + " gap(s) of missing slices" : "") +
                        ") resampled linearly to " + std::to_string(layout.count) + " slices at " +
                        fmt("%.3f", min_gap) + " mm");
  return layout;
}

}  // namespace

std::vector<DicomSeriesInfo> scan_dicom_folder(const std::string& dir, int* skipped) {
  FolderScan scan = scan_folder(dir);
  if (skipped) *skipped = scan.skipped;
  return scan.series;
}

DicomFolderScan scan_dicom_folder_files(const std::string& dir) { return scan_folder(dir); }

CtImage read_ct_series(const std::string& path, const CtReadOptions& options,
                       DicomIdentity* identity, std::vector<std::string>* warnings) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path, "does not exist");
  std::string dir = path;
  if (!fs::is_directory(path, ec)) {
    dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
  }
  return read_ct_series(dir, scan_folder(dir), options, identity, warnings);
}

CtImage read_ct_series(const std::string& dir, const DicomFolderScan& scan,
                       const CtReadOptions& options, DicomIdentity* identity,
                       std::vector<std::string>* warnings) {
  const DicomSeriesInfo& series = choose_ct_series(dir, scan, options.series_uid);
  if (warnings)
    for (const std::string& u : scan.unreadable) warnings->push_back("skipped unreadable DICOM file " + u);

  const size_t n = series.files.size();
  std::vector<SliceHeader> headers(n);
  for_each_file(n, [&](size_t f) { headers[f] = read_slice_header(series.files[f]); });
  if (n == 1) throw InputError(dir, "only 1 slice: not a usable CT series");

  // Every slice must share one in-plane geometry.
  const SliceHeader& h0 = headers.front();
  for (const SliceHeader& h : headers) {
    const std::string pair = fs::path(h0.file).filename().string() + " and " +
                             fs::path(h.file).filename().string();
    if (h.rows != h0.rows || h.cols != h0.cols)
      throw InputError(dir, "inconsistent Rows/Columns across slices (" + pair + ")");
    for (int a = 0; a < 6; ++a)
      if (std::abs(h.orientation[a] - h0.orientation[a]) > 1e-4)
        throw InputError(dir, "inconsistent ImageOrientationPatient across slices (" + pair + ")");
    if (std::abs(h.spacing_row_mm - h0.spacing_row_mm) > 1e-4 ||
        std::abs(h.spacing_col_mm - h0.spacing_col_mm) > 1e-4)
      throw InputError(dir, "inconsistent PixelSpacing across slices (" + pair + ")");
  }
  const Vec3 row = normalized({h0.orientation[0], h0.orientation[1], h0.orientation[2]});
  const Vec3 col = normalized({h0.orientation[3], h0.orientation[4], h0.orientation[5]});
  if (!std::isfinite(row[0] + col[0]) || std::abs(dot(row, col)) > 1e-3)
    throw InputError(dir, "ImageOrientationPatient is not two orthogonal unit vectors");
  const Vec3 normal = normalized(cross(row, col));
  for (SliceHeader& h : headers) h.s_mm = dot(h.position, normal);
  std::sort(headers.begin(), headers.end(),
            [](const SliceHeader& a, const SliceHeader& b) { return a.s_mm < b.s_mm; });
  const SliceLayout layout = check_slice_positions(dir, headers, normal, options, warnings);

  ImageGrid grid;
  grid.size = {h0.cols, h0.rows, layout.count};
  grid.spacing_mm = {h0.spacing_col_mm, h0.spacing_row_mm, layout.spacing_mm};
  grid.origin_mm = headers.front().position;
  // Columns of the direction matrix: row cosine (i), column cosine (j), normal (k grows
  // with the sorted positions, so k runs along +normal).
  for (int r = 0; r < 3; ++r) {
    grid.direction[r * 3 + 0] = row[r];
    grid.direction[r * 3 + 1] = col[r];
    grid.direction[r * 3 + 2] = normal[r];
  }
  const size_t plane = static_cast<size_t>(h0.rows) * static_cast<size_t>(h0.cols);
  CtImage ct;
  if (!layout.resample) {
    ct = CtImage(grid, 0.0f);
    for_each_file(n, [&](size_t f) {
      read_slice_pixels(headers[f].file, h0.rows, h0.cols, &ct.voxels[f * plane]);
    });
  } else {
    std::vector<float> stack(plane * n);
    for_each_file(n, [&](size_t f) {
      read_slice_pixels(headers[f].file, h0.rows, h0.cols, &stack[f * plane]);
    });
    ct = CtImage(grid, 0.0f);
    size_t below = 0;
    for (int64_t k = 0; k < layout.count; ++k) {
      const double s = headers.front().s_mm + k * layout.spacing_mm;
      while (below + 2 < n && headers[below + 1].s_mm <= s) ++below;
      const double w = std::clamp((s - headers[below].s_mm) /
                                      (headers[below + 1].s_mm - headers[below].s_mm), 0.0, 1.0);
      const float* a = &stack[below * plane];
      const float* b = &stack[(below + 1) * plane];
      float* out = &ct.voxels[static_cast<size_t>(k) * plane];
      for (size_t p = 0; p < plane; ++p) out[p] = static_cast<float>((1.0 - w) * a[p] + w * b[p]);
    }
  }

  if (identity) {
    init_dcmtk();
    DcmFileFormat ff;
    ff.loadFileUntilTag(headers.front().file.c_str(), EXS_Unknown, EGL_noChange,
                        DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
    DcmDataset* ds = ff.getDataset();
    identity->patient_id = trim(get_string(ds, DCM_PatientID));
    identity->patient_name = trim(get_string(ds, DCM_PatientName));
    identity->study_instance_uid = trim(get_string(ds, DCM_StudyInstanceUID));
    identity->series_instance_uid = series.series_instance_uid;
    identity->frame_of_reference_uid = trim(get_string(ds, DCM_FrameOfReferenceUID));
    identity->patient_position = trim(get_string(ds, DCM_PatientPosition));
    if (identity->patient_position.empty()) {
      identity->patient_position = "HFS";
      if (warnings) warnings->push_back(dir + ": no PatientPosition (0018,5100); assuming HFS");
    }
  }
  return ct;
}

}  // namespace vmatplan
