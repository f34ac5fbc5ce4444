#include "vmatplan/io/dose_reader.h"

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>

#include "rt_dicom_common.h"
#include "vmatplan/core/vec3.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/image_io.h"

namespace vmatplan {
namespace {

using rt::get_number;
using rt::get_numbers;
using rt::get_string;

// The physical bounding box of a grid (voxel centres), per LPS axis.
void grid_box(const ImageGrid& g, Vec3& lo, Vec3& hi) {
  lo = {1e300, 1e300, 1e300};
  hi = {-1e300, -1e300, -1e300};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? double(g.size[0] - 1) : 0.0, (c & 2) ? double(g.size[1] - 1) : 0.0,
                   (c & 4) ? double(g.size[2] - 1) : 0.0};
    const Vec3 p = g.index_to_physical(idx);
    for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
  }
}

// Pixel values as doubles (before scaling), whatever the stored width and sign.
std::vector<double> pixel_values(DcmDataset& d, size_t n, int bits, bool is_signed,
                                 const std::string& path) {
  std::vector<double> v(n);
  DcmElement* e = nullptr;
  if (d.findAndGetElement(DCM_PixelData, e).bad() || !e)
    throw InputError(path, "RT Dose has no PixelData");
  if (bits == 16) {
    Uint16* w = nullptr;
    if (e->getUint16Array(w).bad() || !w || e->getLength() < n * 2)
      throw InputError(path, "RT Dose PixelData holds fewer than Rows x Columns x Frames 16-bit values");
    for (size_t i = 0; i < n; ++i) v[i] = is_signed ? double(int16_t(w[i])) : double(w[i]);
  } else if (bits == 32) {
    // Little-endian transfer syntaxes: 32-bit pixels arrive as OW (two words, low first)
    // or as OL / UL (one 32-bit value each).
    Uint32* l = nullptr;
    Uint16* w = nullptr;
    if (e->getUint32Array(l).good() && l && e->getLength() >= n * 4) {
      for (size_t i = 0; i < n; ++i) v[i] = is_signed ? double(int32_t(l[i])) : double(l[i]);
    } else if (e->getUint16Array(w).good() && w && e->getLength() >= n * 4) {
      for (size_t i = 0; i < n; ++i) {
        const uint32_t u = uint32_t(w[2 * i]) | (uint32_t(w[2 * i + 1]) << 16);
        v[i] = is_signed ? double(int32_t(u)) : double(u);
      }
    } else {
      throw InputError(path, "RT Dose PixelData holds fewer than Rows x Columns x Frames 32-bit values");
    }
  } else {
    throw InputError(path, "RT Dose BitsAllocated " + std::to_string(bits) + " is not supported (16 or 32)");
  }
  return v;
}

}  // namespace

bool is_dicom_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char buf[132];
  if (!f.read(buf, sizeof buf)) return false;
  return std::memcmp(buf + 128, "DICM", 4) == 0;
}

Image3D<float> read_rtdose(const std::string& path, DoseFileInfo* info_out) {
  rt::quiet_dcmtk_log();
  DcmFileFormat ff;
  OFCondition c = ff.loadFile(path.c_str());
  if (c.bad()) throw InputError(path, std::string("cannot read DICOM file: ") + c.text());
  DcmDataset& d = *ff.getDataset();
  const std::string modality = get_string(d, DCM_Modality);
  const std::string sop_class = get_string(d, DCM_SOPClassUID);
  if (sop_class != rt::kRtDoseStorage && modality != "RTDOSE")
    throw InputError(path, "not an RT Dose (Modality '" + modality + "', SOP Class " + sop_class + ")");
  if (d.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
      !d.canWriteXfer(EXS_LittleEndianExplicit))
    throw InputError(path, "RT Dose pixel data is compressed in a way DCMTK cannot decode here");

  DoseFileInfo info;
  info.format = "RTDOSE";
  info.frame_of_reference_uid = get_string(d, DCM_FrameOfReferenceUID);
  info.study_instance_uid = get_string(d, DCM_StudyInstanceUID);
  info.patient_id = get_string(d, DCM_PatientID);
  info.dose_type = get_string(d, DCM_DoseType);
  info.summation_type = get_string(d, DCM_DoseSummationType);
  for (DcmItem* r : rt::items(d, DCM_ReferencedRTPlanSequence)) {
    info.referenced_plan_uid = get_string(*r, DCM_ReferencedSOPInstanceUID);
    break;
  }

  const std::string units = get_string(d, DCM_DoseUnits);
  double unit_gy = 1.0;
  if (units == "GY") unit_gy = 1.0;
  else if (units == "CGY") unit_gy = 0.01;
  else if (units == "RELATIVE")
    throw InputError(path, "RT Dose DoseUnits RELATIVE: a relative dose cannot be evaluated in Gy");
  else
    throw InputError(path, "RT Dose DoseUnits '" + units + "' is not GY");

  double rows = 0, cols = 0, frames = 1, bits = 0, repr = 0, spp = 1;
  if (!get_number(d, DCM_Rows, rows) || !get_number(d, DCM_Columns, cols) || rows < 1 || cols < 1)
    throw InputError(path, "RT Dose has no Rows / Columns");
  get_number(d, DCM_NumberOfFrames, frames);
  if (!get_number(d, DCM_BitsAllocated, bits)) throw InputError(path, "RT Dose has no BitsAllocated");
  get_number(d, DCM_PixelRepresentation, repr);
  get_number(d, DCM_SamplesPerPixel, spp);
  if (spp != 1) throw InputError(path, "RT Dose must have one sample per pixel");
  if (frames < 1) throw InputError(path, "RT Dose NumberOfFrames must be at least 1");
  if (!get_number(d, DCM_DoseGridScaling, info.dose_grid_scaling)) info.dose_grid_scaling = 1.0;
  if (!(info.dose_grid_scaling > 0) || !std::isfinite(info.dose_grid_scaling))
    throw InputError(path, "RT Dose DoseGridScaling must be positive");

  const std::vector<double> ipp = get_numbers(d, DCM_ImagePositionPatient);
  const std::vector<double> iop = get_numbers(d, DCM_ImageOrientationPatient);
  const std::vector<double> ps = get_numbers(d, DCM_PixelSpacing);
  if (ipp.size() != 3) throw InputError(path, "RT Dose ImagePositionPatient must hold 3 values");
  if (iop.size() != 6) throw InputError(path, "RT Dose ImageOrientationPatient must hold 6 values");
  if (ps.size() != 2 || !(ps[0] > 0) || !(ps[1] > 0))
    throw InputError(path, "RT Dose PixelSpacing must hold 2 positive values");
  const Vec3 row{iop[0], iop[1], iop[2]}, col{iop[3], iop[4], iop[5]};
  const Vec3 normal = cross(row, col);
  const double nn = std::sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
  if (std::abs(nn - 1.0) > 1e-3)
    throw InputError(path, "RT Dose ImageOrientationPatient is not two orthonormal vectors");

  const int64_t nf = static_cast<int64_t>(frames);
  std::vector<double> offsets = get_numbers(d, DCM_GridFrameOffsetVector);
  if (nf > 1 && offsets.size() != static_cast<size_t>(nf))
    throw InputError(path, "RT Dose GridFrameOffsetVector holds " + std::to_string(offsets.size()) +
                               " values for " + std::to_string(nf) + " frames");
  double slice_mm = 0.0;
  if (nf > 1) {
    // Type a (first value 0): offsets from ImagePositionPatient along the normal. Type b:
    // absolute positions along the normal; the first frame lies at ImagePositionPatient.
    const double first = offsets[0];
    for (double& o : offsets) o -= first;
    slice_mm = offsets[1];
    for (int64_t k = 1; k < nf; ++k)
      if (std::abs(offsets[k] - offsets[k - 1] - slice_mm) > 1e-3 * std::max(1.0, std::abs(slice_mm)))
        throw InputError(path, "RT Dose frames are not uniformly spaced (GridFrameOffsetVector)");
    if (std::abs(slice_mm) < 1e-6) throw InputError(path, "RT Dose frames share one position");
  } else {
    double t = 0;
    slice_mm = get_number(d, DCM_SliceThickness, t) && t > 0 ? t : 1.0;
  }
  const double sign = slice_mm < 0 ? -1.0 : 1.0;

  ImageGrid g;
  g.size = {static_cast<int64_t>(cols), static_cast<int64_t>(rows), nf};
  g.spacing_mm = {ps[1], ps[0], std::abs(slice_mm)};
  g.origin_mm = {ipp[0], ipp[1], ipp[2]};
  for (int r = 0; r < 3; ++r) {
    g.direction[r * 3 + 0] = row[r];
    g.direction[r * 3 + 1] = col[r];
    g.direction[r * 3 + 2] = sign * normal[r] / nn;
  }
  const size_t n = static_cast<size_t>(g.voxel_count());
  const std::vector<double> raw =
      pixel_values(d, n, static_cast<int>(bits), repr == 1, path);
  Image3D<float> dose(g);
  const double scale = info.dose_grid_scaling * unit_gy;
  for (size_t i = 0; i < n; ++i) dose.voxels[i] = static_cast<float>(raw[i] * scale);
  if (info_out) *info_out = info;
  return dose;
}

Image3D<float> read_dose(const std::string& path, DoseFileInfo* info) {
  // DICOM by its preamble; a file without one (allowed before PS3.10) that is not named
  // as an image goes to DCMTK too, which reads bare datasets.
  std::string lower = path;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool image_name = false;
  for (const char* ext : {".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e(ext);
    image_name = image_name || (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0);
  }
  if (is_dicom_file(path) || (!image_name && std::ifstream(path).good())) return read_rtdose(path, info);
  Image3D<float> dose = read_image_float(path);
  if (info) {
    *info = DoseFileInfo{};
    info->format = "image";
  }
  return dose;
}

void check_dose_against_patient(const Image3D<float>& dose, const DoseFileInfo& info,
                                const Patient& patient, const std::string& path,
                                std::vector<std::string>* warnings, bool allow_other_frame) {
  const std::string& ours = patient.identity.frame_of_reference_uid;
  if (!info.frame_of_reference_uid.empty() && !ours.empty() && info.frame_of_reference_uid != ours) {
    const std::string msg = "frame of reference " + info.frame_of_reference_uid +
                            " is not the patient's (" + ours + ")";
    if (!allow_other_frame)
      throw InputError(path, msg + ": the dose belongs to another image set "
                                   "(--allow-other-frame evaluates it anyway, in LPS coordinates)");
    if (warnings) warnings->push_back(path + ": " + msg);
  }
  Vec3 dlo, dhi, clo, chi;
  grid_box(dose.grid, dlo, dhi);
  grid_box(patient.ct_hu.grid, clo, chi);
  for (int a = 0; a < 3; ++a) {
    const double half = 0.5 * std::max(dose.grid.spacing_mm[a], patient.ct_hu.grid.spacing_mm[a]);
    if (dlo[a] > chi[a] + half || dhi[a] < clo[a] - half)
      throw InputError(path, "the dose grid does not overlap the patient's CT (axis " +
                                 std::string(1, "xyz"[a]) + ": dose " + std::to_string(dlo[a]) +
                                 ".." + std::to_string(dhi[a]) + " mm, CT " + std::to_string(clo[a]) +
                                 ".." + std::to_string(chi[a]) + " mm)");
  }
}

}  // namespace vmatplan
