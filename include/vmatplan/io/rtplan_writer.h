#pragma once
// DICOM RT Plan export (PS3.3 A.20) of a DeliveryPlan, built with DCMTK dcmdata items
// (dcmrt 3.6.7 has the item-class bugs listed in docs/toolchain-notes.md).
// Modules: Patient, General Study, RT Series, Frame of Reference, General Equipment,
// RT General Plan (RTPlanGeometry PATIENT + ReferencedStructureSetSequence when the patient
// has an RTSTRUCT), RT Prescription (DoseReferenceSequence), RT Patient Setup, RT Fraction
// Scheme (BeamMeterset), RT Beams, SOP Common.
// Beams: BeamLimitingDeviceSequence ASYMX (only when the beam has X jaws), ASYMY, MLCX with
// LeafPositionBoundaries (pairs + 1). Control point 0 carries every parameter (energy, dose
// rate, angles and rotation directions, isocentre, all jaw and leaf positions, weight 0);
// later control points carry what changes plus the cumulative meterset weight (C.8.8.14).
//
//   write_rtplan(plan, "out/RP.dcm");   // plan.sop_instance_uid is made when empty
#include <string>

#include "vmatplan/geometry/delivery_plan.h"

namespace vmatplan {

// Writes `path` (the caller stages it); returns the SOP Instance UID written. Empty
// identity UIDs (study, frame of reference) are made fresh. ProcessingError/InputError.
std::string write_rtplan(const DeliveryPlan& plan, const std::string& path);

}  // namespace vmatplan
