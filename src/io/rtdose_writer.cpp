#include "vmatplan/io/rtdose_writer.h"

#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "rt_dicom_common.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/core/version.h"

namespace vmatplan {

using rt::ds;
using rt::ds_list;
using rt::new_item;
using rt::put;

void write_rtdose(const Image3D<float>& dose, const DeliveryPlan& plan, const std::string& f,
                  const RtDoseOptions& options) {
  const ImageGrid& g = dose.grid;
  if (dose.empty() || g.voxel_count() != static_cast<int64_t>(dose.voxels.size()))
    throw ProcessingError(f + ": empty or inconsistent dose grid");
  if (plan.sop_instance_uid.empty())
    throw ProcessingError(f + ": the RT Dose must reference an RT Plan (no plan SOP Instance UID)");
  if (options.bits_allocated != 32 && options.bits_allocated != 16)
    throw UsageError("RT Dose bits must be 16 or 32");
  const DicomIdentity& id = plan.identity;
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put(d, DCM_SpecificCharacterSet, "ISO_IR 100", f);
  put(d, DCM_SOPClassUID, rt::kRtDoseStorage, f);
  put(d, DCM_SOPInstanceUID, make_uid(), f);
  put(d, DCM_InstanceCreationDate, rt::today_da(), f);
  put(d, DCM_InstanceCreationTime, rt::now_tm(), f);
  rt::put_patient_study_series(d, id, "RTDOSE", "vmatplan RT Dose", f);
  put(d, DCM_InstanceNumber, "1", f);
  put(d, DCM_ContentDate, rt::today_da(), f);
  put(d, DCM_ContentTime, rt::now_tm(), f);

  // Image Plane (C.7.6.2): rows run along index axis 0 (i), columns along axis 1 (j).
  const Vec3 row = g.axis(0), col = g.axis(1), ax2 = g.axis(2);
  const Vec3 normal{row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                    row[0] * col[1] - row[1] * col[0]};
  const double k_sign = normal[0] * ax2[0] + normal[1] * ax2[1] + normal[2] * ax2[2];
  put(d, DCM_ImageOrientationPatient, ds_list({row[0], row[1], row[2], col[0], col[1], col[2]}), f);
  put(d, DCM_ImagePositionPatient, ds_list({g.origin_mm[0], g.origin_mm[1], g.origin_mm[2]}), f);
  put(d, DCM_PixelSpacing, ds_list({g.spacing_mm[1], g.spacing_mm[0]}), f);  // row, column spacing
  put(d, DCM_SliceThickness, ds(g.spacing_mm[2]), f);
  std::vector<double> offsets(g.size[2]);
  for (int64_t k = 0; k < g.size[2]; ++k) offsets[k] = k * g.spacing_mm[2] * (k_sign < 0 ? -1.0 : 1.0);
  put(d, DCM_GridFrameOffsetVector, ds_list(offsets), f);
  put(d, DCM_NumberOfFrames, std::to_string(g.size[2]), f);
  if (d.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_GridFrameOffsetVector).bad())
    throw ProcessingError(f + ": cannot set FrameIncrementPointer");

  // Image Pixel (C.7.6.3) + RT Dose (C.8.8.3).
  const int bits = options.bits_allocated;
  put(d, DCM_SamplesPerPixel, "1", f);
  put(d, DCM_PhotometricInterpretation, "MONOCHROME2", f);
  put(d, DCM_Rows, std::to_string(g.size[1]), f);
  put(d, DCM_Columns, std::to_string(g.size[0]), f);
  put(d, DCM_BitsAllocated, std::to_string(bits), f);
  put(d, DCM_BitsStored, std::to_string(bits), f);
  put(d, DCM_HighBit, std::to_string(bits - 1), f);
  put(d, DCM_PixelRepresentation, "0", f);
  put(d, DCM_DoseUnits, "GY", f);
  put(d, DCM_DoseType, "PHYSICAL", f);
  put(d, DCM_DoseSummationType, "PLAN", f);
  {
    DcmItem& r = new_item(d, DCM_ReferencedRTPlanSequence, f);
    put(r, DCM_ReferencedSOPClassUID, rt::kRtPlanStorage, f);
    put(r, DCM_ReferencedSOPInstanceUID, plan.sop_instance_uid, f);
  }
  float max_gy = 0;
  for (float v : dose.voxels) {
    if (!std::isfinite(v)) throw ProcessingError(f + ": the dose grid holds a non-finite value");
    max_gy = std::max(max_gy, v);
  }
  const double max_count = bits == 32 ? 4294967295.0 : 65535.0;
  // The scaling is written as a 16-character DS; pixels use the value read back from it.
  const std::string scaling_text = ds(max_gy > 0 ? max_gy / max_count * (1 + 1e-12) : 1.0);
  const double scaling = std::strtod(scaling_text.c_str(), nullptr);
  put(d, DCM_DoseGridScaling, scaling_text, f);
  const size_t n = dose.voxels.size();
  OFCondition c;
  if (bits == 32) {
    std::vector<uint32_t> px(n);
    for (size_t i = 0; i < n; ++i)
      px[i] = static_cast<uint32_t>(std::min(max_count, std::round(std::max(0.0f, dose.voxels[i]) / scaling)));
    // Little-endian hosts: two 16-bit words per pixel, low word first (PS3.5 8.1.1).
    std::vector<Uint16> words(2 * n);
    for (size_t i = 0; i < n; ++i) {
      words[2 * i] = static_cast<Uint16>(px[i] & 0xFFFFu);
      words[2 * i + 1] = static_cast<Uint16>(px[i] >> 16);
    }
    c = d.putAndInsertUint16Array(DCM_PixelData, words.data(), static_cast<unsigned long>(words.size()));
  } else {
    std::vector<Uint16> px(n);
    for (size_t i = 0; i < n; ++i)
      px[i] = static_cast<Uint16>(std::min(max_count, std::round(std::max(0.0f, dose.voxels[i]) / scaling)));
    c = d.putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(n));
  }
  if (c.bad()) throw ProcessingError(f + ": cannot set PixelData: " + c.text());
  c = ff.saveFile(f.c_str(), EXS_LittleEndianExplicit);
  if (c.bad()) throw InputError(f, std::string("cannot write DICOM file: ") + c.text());
}

}  // namespace vmatplan
