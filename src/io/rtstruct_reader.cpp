#include "vmatplan/io/rtstruct_reader.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "rt_dicom_common.h"
#include "vmatplan/core/contour_rasterizer.h"
#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

std::string get_string(DcmItem* item, const DcmTagKey& tag) {
  OFString s;
  if (item->findAndGetOFStringArray(tag, s).good()) {
    std::string v = s.c_str();
    v.erase(0, v.find_first_not_of(' '));
    v.erase(v.find_last_not_of(' ') + 1);
    return v;
  }
  return "";
}

int get_int(DcmItem* item, const DcmTagKey& tag, int fallback) {
  Sint32 v = 0;
  return item->findAndGetSint32(tag, v).good() ? static_cast<int>(v) : fallback;
}

// The items of a sequence directly inside item; empty when absent.
std::vector<DcmItem*> items_of(DcmItem* item, const DcmTagKey& tag) {
  std::vector<DcmItem*> out;
  DcmSequenceOfItems* seq = nullptr;
  if (item->findAndGetSequence(tag, seq).good() && seq != nullptr)
    for (unsigned long n = 0; n < seq->card(); ++n) out.push_back(seq->getItem(n));
  return out;
}

// ContourData (3006,0050) is a DS list x\y\z\x\y\z...; parsing the raw string once is much
// faster than asking DCMTK for each value by position.
bool parse_contour_data(DcmItem* item, std::vector<Vec3>& points) {
  const char* raw = nullptr;
  if (item->findAndGetString(DCM_ContourData, raw).bad() || raw == nullptr) return false;
  std::vector<double> v;
  const char* p = raw;
  while (*p) {
    char* end = nullptr;
    const double x = std::strtod(p, &end);
    if (end == p) return false;
    v.push_back(x);
    p = end;
    while (*p == ' ') ++p;
    if (*p == '\\') ++p;
  }
  if (v.size() % 3 != 0) return false;
  points.resize(v.size() / 3);
  for (size_t n = 0; n < points.size(); ++n) points[n] = {v[3 * n], v[3 * n + 1], v[3 * n + 2]};
  return true;
}

// True when the structure set names ct_series_uid as the series its contours were drawn on
// (Referenced Frame of Reference Sequence, PS3.3 C.8.8.5).
bool references_series(DcmItem* ds, const std::string& ct_series_uid) {
  for (DcmItem* fr : items_of(ds, DCM_ReferencedFrameOfReferenceSequence))
    for (DcmItem* st : items_of(fr, DCM_RTReferencedStudySequence))
      for (DcmItem* se : items_of(st, DCM_RTReferencedSeriesSequence))
        if (get_string(se, DCM_SeriesInstanceUID) == ct_series_uid) return true;
  return false;
}

struct RoiContours {
  std::array<uint8_t, 3> color{255, 0, 0};
  bool has_color = false;
  std::vector<PlanarContour> closed;
  int other = 0;  // POINT / OPEN_PLANAR / OPEN_NONPLANAR contours, not rasterized
  int bad = 0;    // contours whose ContourData cannot be parsed
};

}  // namespace

std::vector<Structure> read_rtstruct(const std::string& file, const ImageGrid& ct_grid,
                                     const std::string& frame_of_reference_uid,
                                     DicomIdentity* identity,
                                     std::vector<std::string>* warnings) {
  rt::quiet_dcmtk_log();
  DcmFileFormat ff;
  OFCondition cond = ff.loadFile(file.c_str());
  if (cond.bad()) throw InputError(file, std::string("cannot read DICOM file: ") + cond.text());
  DcmDataset* ds = ff.getDataset();
  const std::string modality = get_string(ds, DCM_Modality);
  if (modality != "RTSTRUCT")
    throw InputError(file, "not an RT Structure Set (Modality " +
                               (modality.empty() ? std::string("missing") : modality) + ")");

  // Structure Set ROI Sequence (PS3.3 C.8.8.5): number, name, frame of reference.
  std::vector<DcmItem*> roi_items = items_of(ds, DCM_StructureSetROISequence);
  if (roi_items.empty() && !ds->tagExists(DCM_StructureSetROISequence))
    throw InputError(file, "no StructureSetROISequence (3006,0020)");
  std::string set_for;
  for (DcmItem* fr : items_of(ds, DCM_ReferencedFrameOfReferenceSequence)) {
    set_for = get_string(fr, DCM_FrameOfReferenceUID);
    if (!set_for.empty()) break;
  }
  std::vector<std::string> local_warnings;
  std::vector<std::string>& warn = warnings ? *warnings : local_warnings;
  const std::string ct_series = identity ? identity->series_instance_uid : std::string();
  bool for_mismatch_accepted = false;
  auto check_for = [&](const std::string& uid, const std::string& what) {
    if (frame_of_reference_uid.empty() || uid.empty() || uid == frame_of_reference_uid) return;
    // Some tools write a fresh frame of reference UID but reference the CT series itself;
    // the contours were still drawn on that CT, so they are accepted with a warning.
    if (!ct_series.empty() && references_series(ds, ct_series)) {
      if (!for_mismatch_accepted)
        warn.push_back(file + ": frame of reference " + uid +
                       " differs from the CT's, but the structure set references the CT series " +
                       ct_series + "; contours used as they are");
      for_mismatch_accepted = true;
      return;
    }
    throw InputError(file, what + " frame of reference " + uid + " differs from the CT's (" +
                               frame_of_reference_uid + ")");
  };
  check_for(set_for, "structure set");

  // ROI Contour Module (PS3.3 C.8.8.6): colour and contours per referenced ROI number.
  std::map<int, RoiContours> contours_by_roi;
  for (DcmItem* rc : items_of(ds, DCM_ROIContourSequence)) {
    const int number = get_int(rc, DCM_ReferencedROINumber, -1);
    RoiContours& roi = contours_by_roi[number];
    Sint32 rgb[3];
    bool color_ok = true;
    for (int a = 0; a < 3 && color_ok; ++a)
      color_ok = rc->findAndGetSint32(DCM_ROIDisplayColor, rgb[a], a).good();
    if (color_ok) {
      for (int a = 0; a < 3; ++a) roi.color[a] = static_cast<uint8_t>(std::clamp<Sint32>(rgb[a], 0, 255));
      roi.has_color = true;
    }
    for (DcmItem* c : items_of(rc, DCM_ContourSequence)) {
      const std::string type = get_string(c, DCM_ContourGeometricType);
      if (type != "CLOSED_PLANAR") {
        ++roi.other;
        continue;
      }
      PlanarContour pc;
      if (!parse_contour_data(c, pc.points_mm)) {
        ++roi.bad;
        continue;
      }
      roi.closed.push_back(std::move(pc));
    }
  }

  // RT ROI Observations Module (PS3.3 C.8.8.8): interpreted type.
  std::map<int, std::string> type_by_roi;
  for (DcmItem* ob : items_of(ds, DCM_RTROIObservationsSequence))
    type_by_roi[get_int(ob, DCM_ReferencedROINumber, -1)] = get_string(ob, DCM_RTROIInterpretedType);

  std::vector<Structure> out;
  std::set<int> seen;
  for (DcmItem* item : roi_items) {
    Structure s;
    s.number = get_int(item, DCM_ROINumber, -1);
    s.name = get_string(item, DCM_ROIName);
    if (s.name.empty()) s.name = "ROI " + std::to_string(s.number);
    check_for(get_string(item, DCM_ReferencedFrameOfReferenceUID), "ROI '" + s.name + "'");
    seen.insert(s.number);
    auto t = type_by_roi.find(s.number);
    if (t != type_by_roi.end()) s.type = t->second;
    auto found = contours_by_roi.find(s.number);
    std::vector<std::string> raster_warnings;
    if (found != contours_by_roi.end()) {
      RoiContours& roi = found->second;
      if (roi.has_color) s.color_rgb = roi.color;
      if (roi.other > 0)
        warn.push_back(file + ": ROI '" + s.name + "': " + std::to_string(roi.other) +
                       " POINT/OPEN contour(s) not rasterized");
      if (roi.bad > 0)
        warn.push_back(file + ": ROI '" + s.name + "': " + std::to_string(roi.bad) +
                       " contour(s) with unreadable ContourData skipped");
      s.contours = std::move(roi.closed);
    }
    if (s.contours.empty()) {
      warn.push_back(file + ": ROI '" + s.name + "' has no closed planar contours; empty mask");
      s.mask = Mask(ct_grid, 0);
    } else {
      s.mask = rasterize_contours(s.contours, ct_grid, {}, &raster_warnings);
    }
    for (const std::string& w : raster_warnings) warn.push_back(file + ": ROI '" + s.name + "': " + w);
    out.push_back(std::move(s));
  }
  for (const auto& kv : contours_by_roi)
    if (!seen.count(kv.first))
      warn.push_back(file + ": contours for ROI number " + std::to_string(kv.first) +
                     " that the StructureSetROISequence does not list; ignored");

  if (identity) identity->structure_set_sop_instance_uid = get_string(ds, DCM_SOPInstanceUID);
  return out;
}

}  // namespace vmatplan
