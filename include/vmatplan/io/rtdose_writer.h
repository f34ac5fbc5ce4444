#pragma once
// DICOM RT Dose export (PS3.3 A.18) of a dose grid in Gy: a multi-frame image with
// unsigned integer pixels x DoseGridScaling (3004,000E), GridFrameOffsetVector along the
// slice normal, DoseSummationType PLAN and a ReferencedRTPlanSequence to the plan.
// 32-bit pixels by default (DCMTK has no putUint32Array: written as twice as many 16-bit
// words). dciodvfy (2022) crashes on any 32-bit RT Dose, so a 16-bit option exists for
// validating the structure with it.
//
//   write_rtdose(dose_gy, plan, "out/RD.dcm");
#include <string>

#include "vmatplan/core/image3d.h"
#include "vmatplan/geometry/delivery_plan.h"

namespace vmatplan {

struct RtDoseOptions {
  int bits_allocated = 32;  // 32 or 16
};

// The plan supplies the identity and the SOP Instance UID referenced (must be non-empty).
// Negative doses are written as 0. ProcessingError/InputError.
void write_rtdose(const Image3D<float>& dose_gy, const DeliveryPlan& plan,
                  const std::string& path, const RtDoseOptions& options = {});

}  // namespace vmatplan
