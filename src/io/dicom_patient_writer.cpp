#include "vmatplan/io/dicom_patient_writer.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "vmatplan/core/contour_extraction.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/core/version.h"
#include "rt_dicom_common.h"

namespace vmatplan {
namespace {

constexpr const char* kCtImageStorage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kRtStructureSetStorage = "1.2.840.10008.5.1.4.1.1.481.3";
// Detached Study Management, the SOP class RTSTRUCTs conventionally name for the study.
constexpr const char* kStudyReferenceClass = "1.2.840.10008.3.1.2.3.1";

// Decimal String values hold at most 16 characters (PS3.5 table 6.2-1).
std::string ds(double v, int decimals = 6) {
  if (std::abs(v) < 1e-9) v = 0.0;  // no "-0"
  char buf[64];
  for (int d = decimals; d >= 0; --d) {
    std::snprintf(buf, sizeof buf, "%.*f", d, v);
    if (std::strlen(buf) <= 16) return buf;
  }
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string ds_list(std::initializer_list<double> values, int decimals = 6) {
  std::string s;
  for (double v : values) s += (s.empty() ? "" : "\\") + ds(v, decimals);
  return s;
}

using rt::new_item;
using rt::put;

void save(DcmFileFormat& ff, const std::string& path) {
  OFCondition c = ff.saveFile(path.c_str(), EXS_LittleEndianExplicit);
  if (c.bad()) throw InputError(path, std::string("cannot write DICOM file: ") + c.text());
}

// Patient, General Study and General Equipment modules, shared by CT and RTSTRUCT.
void put_common(DcmItem& ds_, const Patient& p, const std::string& file) {
  const DicomIdentity& id = p.identity;
  put(ds_, DCM_SpecificCharacterSet, "ISO_IR 100", file);
  put(ds_, DCM_PatientName, id.patient_name, file);
  put(ds_, DCM_PatientID, id.patient_id, file);
  put(ds_, DCM_PatientBirthDate, "", file);
  put(ds_, DCM_PatientSex, "M", file);  // a prostate patient
  put(ds_, DCM_StudyInstanceUID, id.study_instance_uid, file);
  put(ds_, DCM_StudyDate, "", file);
  put(ds_, DCM_StudyTime, "", file);
  put(ds_, DCM_ReferringPhysicianName, "", file);
  put(ds_, DCM_StudyID, "1", file);
  put(ds_, DCM_AccessionNumber, "", file);
  put(ds_, DCM_Manufacturer, "vmatplan", file);
  put(ds_, DCM_SoftwareVersions, kVersion, file);
}

// FNV-1a: a stable hash, so that derived UIDs are the same on every platform.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// CT slice UIDs extend the series UID by the instance number when that fits in 64
// characters; otherwise they are derived from it.
std::string ct_sop_uid(const Patient& p, int64_t k) {
  const std::string& series = p.identity.series_instance_uid;
  std::string n = std::to_string(k + 1);
  if (series.size() + 1 + n.size() <= 64) return series + "." + n;
  return make_uid(fnv1a(series), "ct-slice-" + n);
}

Vec3 normal_of(const ImageGrid& g) {
  Vec3 r = g.axis(0), c = g.axis(1);
  return {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
}

void write_ct_slice(const Patient& p, int64_t k, const std::string& path) {
  const ImageGrid& g = p.ct_hu.grid;
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put_common(d, p, path);
  put(d, DCM_SOPClassUID, kCtImageStorage, path);
  put(d, DCM_SOPInstanceUID, ct_sop_uid(p, k), path);
  put(d, DCM_Modality, "CT", path);
  put(d, DCM_SeriesInstanceUID, p.identity.series_instance_uid, path);
  put(d, DCM_SeriesNumber, "1", path);
  put(d, DCM_SeriesDescription, "vmatplan CT", path);
  put(d, DCM_PatientPosition, p.identity.patient_position, path);
  put(d, DCM_BodyPartExamined, "PELVIS", path);
  put(d, DCM_FrameOfReferenceUID, p.identity.frame_of_reference_uid, path);
  put(d, DCM_PositionReferenceIndicator, "", path);
  put(d, DCM_InstanceNumber, std::to_string(k + 1), path);
  put(d, DCM_AcquisitionNumber, "1", path);
  put(d, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL", path);
  put(d, DCM_KVP, "120", path);
  // Image Plane: rows follow index axis 0, columns index axis 1 (PS3.3 C.7.6.2).
  const Vec3 row = g.axis(0), col = g.axis(1), n = normal_of(g);
  const Vec3 pos = g.index_to_physical({0.0, 0.0, double(k)});
  put(d, DCM_ImageOrientationPatient,
      ds_list({row[0], row[1], row[2], col[0], col[1], col[2]}), path);
  put(d, DCM_ImagePositionPatient, ds_list({pos[0], pos[1], pos[2]}, 4), path);
  put(d, DCM_PixelSpacing, ds_list({g.spacing_mm[1], g.spacing_mm[0]}), path);
  put(d, DCM_SliceThickness, ds(g.spacing_mm[2]), path);
  // Slice location: the position along the plane normal.
  put(d, DCM_SliceLocation, ds(pos[0] * n[0] + pos[1] * n[1] + pos[2] * n[2], 4), path);
  // Image Pixel: signed 16-bit HU, rescale identity.
  d.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  put(d, DCM_PhotometricInterpretation, "MONOCHROME2", path);
  d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(g.size[1]));
  d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(g.size[0]));
  d.putAndInsertUint16(DCM_BitsAllocated, 16);
  d.putAndInsertUint16(DCM_BitsStored, 16);
  d.putAndInsertUint16(DCM_HighBit, 15);
  d.putAndInsertUint16(DCM_PixelRepresentation, 1);
  put(d, DCM_RescaleIntercept, "0", path);
  put(d, DCM_RescaleSlope, "1", path);
  put(d, DCM_RescaleType, "HU", path);
  put(d, DCM_WindowCenter, "40", path);
  put(d, DCM_WindowWidth, "400", path);
  const size_t npix = size_t(g.size[0] * g.size[1]);
  std::vector<Uint16> pixels(npix);
  const float* src = p.ct_hu.voxels.data() + size_t(k) * npix;
  for (size_t i = 0; i < npix; ++i) {
    long hu = std::lround(std::min(32767.0f, std::max(-32768.0f, src[i])));
    pixels[i] = static_cast<Uint16>(static_cast<int16_t>(hu));
  }
  OFCondition c = d.putAndInsertUint16Array(DCM_PixelData, pixels.data(), unsigned(npix));
  if (c.bad()) throw ProcessingError(path + ": cannot set pixel data: " + c.text());
  save(ff, path);
}

// The CT slice a planar contour lies in, or -1 when it is off every slice centre.
int64_t slice_of(const PlanarContour& c, const ImageGrid& g) {
  if (c.points_mm.empty()) return -1;
  double kf = g.physical_to_index(c.points_mm.front())[2];
  int64_t k = std::llround(kf);
  if (std::abs(kf - double(k)) > 0.1 || k < 0 || k >= g.size[2]) return -1;
  return k;
}

std::string rgb_string(const std::array<uint8_t, 3>& c) {
  return std::to_string(c[0]) + "\\" + std::to_string(c[1]) + "\\" + std::to_string(c[2]);
}

void write_rtstruct(const Patient& p, const std::string& path) {
  const ImageGrid& g = p.ct_hu.grid;
  const DicomIdentity& id = p.identity;
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put_common(d, p, path);
  put(d, DCM_SOPClassUID, kRtStructureSetStorage, path);
  put(d, DCM_SOPInstanceUID, id.structure_set_sop_instance_uid, path);
  // RT Series.
  put(d, DCM_Modality, "RTSTRUCT", path);
  put(d, DCM_SeriesInstanceUID, make_uid(fnv1a(id.structure_set_sop_instance_uid), "rtstruct-series"),
      path);
  put(d, DCM_SeriesNumber, "2", path);
  put(d, DCM_SeriesDescription, "vmatplan structures", path);
  put(d, DCM_OperatorsName, "", path);
  // Frame of Reference module (part of the RT Structure Set IOD since PS3.3 2019).
  put(d, DCM_FrameOfReferenceUID, id.frame_of_reference_uid, path);
  put(d, DCM_PositionReferenceIndicator, "", path);
  // Structure Set.
  put(d, DCM_StructureSetLabel, "vmatplan", path);
  put(d, DCM_StructureSetName, "vmatplan", path);
  put(d, DCM_StructureSetDate, "", path);
  put(d, DCM_StructureSetTime, "", path);
  put(d, DCM_InstanceNumber, "1", path);
  {
    DcmItem& fr = new_item(d, DCM_ReferencedFrameOfReferenceSequence, path);
    put(fr, DCM_FrameOfReferenceUID, id.frame_of_reference_uid, path);
    DcmItem& st = new_item(fr, DCM_RTReferencedStudySequence, path);
    put(st, DCM_ReferencedSOPClassUID, kStudyReferenceClass, path);
    put(st, DCM_ReferencedSOPInstanceUID, id.study_instance_uid, path);
    DcmItem& se = new_item(st, DCM_RTReferencedSeriesSequence, path);
    put(se, DCM_SeriesInstanceUID, id.series_instance_uid, path);
    for (int64_t k = 0; k < g.size[2]; ++k) {
      DcmItem& im = new_item(se, DCM_ContourImageSequence, path);
      put(im, DCM_ReferencedSOPClassUID, kCtImageStorage, path);
      put(im, DCM_ReferencedSOPInstanceUID, ct_sop_uid(p, k), path);
    }
  }
  for (const Structure& s : p.structures) {
    DcmItem& roi = new_item(d, DCM_StructureSetROISequence, path);
    put(roi, DCM_ROINumber, std::to_string(s.number), path);
    put(roi, DCM_ReferencedFrameOfReferenceUID, id.frame_of_reference_uid, path);
    put(roi, DCM_ROIName, s.name, path);
    put(roi, DCM_ROIGenerationAlgorithm, "AUTOMATIC", path);
  }
  for (const Structure& s : p.structures) {
    DcmItem& rc = new_item(d, DCM_ROIContourSequence, path);
    put(rc, DCM_ROIDisplayColor, rgb_string(s.color_rgb), path);
    put(rc, DCM_ReferencedROINumber, std::to_string(s.number), path);
    std::vector<PlanarContour> made;
    const std::vector<PlanarContour>* contours = &s.contours;
    if (contours->empty() && !s.mask.empty()) contours = &(made = extract_mask_contours(s.mask));
    int number = 0;
    for (const PlanarContour& c : *contours) {
      if (c.points_mm.size() < 3) continue;
      DcmItem& ci = new_item(rc, DCM_ContourSequence, path);
      int64_t k = slice_of(c, g);
      if (k >= 0) {
        DcmItem& im = new_item(ci, DCM_ContourImageSequence, path);
        put(im, DCM_ReferencedSOPClassUID, kCtImageStorage, path);
        put(im, DCM_ReferencedSOPInstanceUID, ct_sop_uid(p, k), path);
      }
      put(ci, DCM_ContourNumber, std::to_string(++number), path);
      put(ci, DCM_ContourGeometricType, "CLOSED_PLANAR", path);
      put(ci, DCM_NumberOfContourPoints, std::to_string(c.points_mm.size()), path);
      // Three decimals keep the contour well below 0.01 mm of the computed points.
      std::string data;
      data.reserve(c.points_mm.size() * 30);
      for (const Vec3& q : c.points_mm)
        for (int a = 0; a < 3; ++a) {
          if (!data.empty()) data += '\\';
          data += ds(q[a], 3);
        }
      put(ci, DCM_ContourData, data, path);
    }
  }
  for (const Structure& s : p.structures) {
    DcmItem& ob = new_item(d, DCM_RTROIObservationsSequence, path);
    put(ob, DCM_ObservationNumber, std::to_string(s.number), path);
    put(ob, DCM_ReferencedROINumber, std::to_string(s.number), path);
    put(ob, DCM_RTROIInterpretedType, s.type, path);
    put(ob, DCM_ROIInterpreter, "", path);
  }
  save(ff, path);
}

}  // namespace

void write_dicom_patient(Patient& patient, const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw InputError(dir, "output folder does not exist");
  const ImageGrid& g = patient.ct_hu.grid;
  if (patient.ct_hu.empty() || g.voxel_count() == 0)
    throw ProcessingError("write_dicom_patient: the patient has no CT");
  if (g.size[0] > 65535 || g.size[1] > 65535)
    throw ProcessingError("write_dicom_patient: CT slices larger than 65535 pixels");
  for (const Structure& s : patient.structures)
    if (!s.mask.empty() && !s.mask.grid.same_geometry(g))
      throw ProcessingError("write_dicom_patient: structure " + s.name +
                            " is not on the CT grid");
  DicomIdentity& id = patient.identity;
  for (std::string* uid : {&id.study_instance_uid, &id.series_instance_uid,
                           &id.frame_of_reference_uid, &id.structure_set_sop_instance_uid})
    if (uid->empty()) *uid = make_uid();
  if (id.patient_position.empty()) id.patient_position = "HFS";

  const int width = std::max<int>(4, int(std::to_string(g.size[2]).size()));
  for (int64_t k = 0; k < g.size[2]; ++k) {
    std::string n = std::to_string(k + 1);
    std::string name = "CT_" + std::string(size_t(width) - std::min(n.size(), size_t(width)), '0') + n + ".dcm";
    write_ct_slice(patient, k, (fs::path(dir) / name).string());
  }
  write_rtstruct(patient, (fs::path(dir) / "RS.dcm").string());
}

}  // namespace vmatplan
