#include "vmatplan/io/rtplan_writer.h"

#include <dcmtk/dcmdata/dcfilefo.h>

#include <cmath>

#include "rt_dicom_common.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/core/version.h"

namespace vmatplan {
namespace {

using rt::ds;
using rt::ds_list;
using rt::new_item;
using rt::put;

std::string direction_cs(RotationDirection d) {
  switch (d) {
    case RotationDirection::kClockwise: return "CW";
    case RotationDirection::kCounterClockwise: return "CC";
    default: return "NONE";
  }
}

std::string or_uid(const std::string& s) { return s.empty() ? make_uid() : s; }

void put_device_positions(DcmItem& cp_item, const DeliveryBeam& b, const DeliveryControlPoint& cp,
                          const DeliveryControlPoint* prev, const std::string& f) {
  const bool x = !b.x_jaw_type.empty(), y = !b.y_jaw_type.empty();
  const bool x_changed = x && (!prev || cp.x1_mm != prev->x1_mm || cp.x2_mm != prev->x2_mm);
  const bool y_changed = y && (!prev || cp.y1_mm != prev->y1_mm || cp.y2_mm != prev->y2_mm);
  const bool mlc_changed =
      b.has_mlc() && (!prev || cp.leaf_x1_mm != prev->leaf_x1_mm || cp.leaf_x2_mm != prev->leaf_x2_mm);
  if (!x_changed && !y_changed && !mlc_changed) return;
  if (x_changed) {
    DcmItem& d = new_item(cp_item, DCM_BeamLimitingDevicePositionSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, b.x_jaw_type, f);
    put(d, DCM_LeafJawPositions, ds_list({cp.x1_mm, cp.x2_mm}), f);
  }
  if (y_changed) {
    DcmItem& d = new_item(cp_item, DCM_BeamLimitingDevicePositionSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, b.y_jaw_type, f);
    put(d, DCM_LeafJawPositions, ds_list({cp.y1_mm, cp.y2_mm}), f);
  }
  if (mlc_changed) {
    if (static_cast<int>(cp.leaf_x1_mm.size()) != b.pair_count() ||
        static_cast<int>(cp.leaf_x2_mm.size()) != b.pair_count())
      throw ProcessingError(f + ": beam '" + b.name + "' control point lists " +
                            std::to_string(cp.leaf_x1_mm.size()) + " leaves per bank, the MLC has " +
                            std::to_string(b.pair_count()) + " pairs");
    // Leaf/Jaw Positions: leaves 1xx (X1 bank) first, then 2xx (PS3.3 C.8.8.14.3 / 300A,011C).
    std::vector<double> all(cp.leaf_x1_mm);
    all.insert(all.end(), cp.leaf_x2_mm.begin(), cp.leaf_x2_mm.end());
    DcmItem& d = new_item(cp_item, DCM_BeamLimitingDevicePositionSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, "MLCX", f);
    put(d, DCM_LeafJawPositions, ds_list(all), f);
  }
}

void put_control_point(DcmItem& item, const DeliveryBeam& b, size_t i, const std::string& f) {
  const DeliveryControlPoint& cp = b.control_points[i];
  const DeliveryControlPoint* prev = i ? &b.control_points[i - 1] : nullptr;
  put(item, DCM_ControlPointIndex, std::to_string(i), f);
  if (!prev) {
    put(item, DCM_NominalBeamEnergy, ds(b.energy_mv), f);
    put(item, DCM_DoseRateSet, ds(b.dose_rate_mu_per_min), f);  // 0 as read from plans that give 0
  } else if (cp.dose_rate_mu_per_min > 0) {
    put(item, DCM_DoseRateSet, ds(cp.dose_rate_mu_per_min), f);
  }
  put_device_positions(item, b, cp, prev, f);
  if (!prev || cp.gantry_deg != prev->gantry_deg) put(item, DCM_GantryAngle, ds(cp.gantry_deg), f);
  if (!prev || cp.gantry_direction != prev->gantry_direction)
    put(item, DCM_GantryRotationDirection, direction_cs(cp.gantry_direction), f);
  if (!prev || cp.collimator_deg != prev->collimator_deg) {
    put(item, DCM_BeamLimitingDeviceAngle, ds(cp.collimator_deg), f);
    put(item, DCM_BeamLimitingDeviceRotationDirection, "NONE", f);
  }
  if (!prev || cp.couch_deg != prev->couch_deg) {
    put(item, DCM_PatientSupportAngle, ds(cp.couch_deg), f);
    put(item, DCM_PatientSupportRotationDirection, "NONE", f);
  }
  if (!prev) {
    put(item, DCM_TableTopEccentricAngle, "0", f);
    put(item, DCM_TableTopEccentricRotationDirection, "NONE", f);
    // Type 2: the couch position is set at the machine.
    put(item, DCM_TableTopVerticalPosition, "", f);
    put(item, DCM_TableTopLongitudinalPosition, "", f);
    put(item, DCM_TableTopLateralPosition, "", f);
    const Vec3& iso = b.isocenter_mm;
    put(item, DCM_IsocenterPosition, ds_list({iso[0], iso[1], iso[2]}), f);
  }
  put(item, DCM_CumulativeMetersetWeight, ds(cp.cumulative_meterset_weight), f);
}

void put_beam(DcmItem& item, const DeliveryBeam& b, const std::string& f) {
  if (b.control_points.empty()) throw ProcessingError(f + ": beam '" + b.name + "' has no control points");
  put(item, DCM_BeamNumber, std::to_string(b.number), f);
  put(item, DCM_BeamName, b.name, f);
  put(item, DCM_BeamType, b.beam_type, f);
  put(item, DCM_RadiationType, b.radiation_type, f);
  put(item, DCM_TreatmentMachineName, b.machine_name.substr(0, 16), f);  // SH: 16 characters
  put(item, DCM_Manufacturer, "vmatplan", f);
  put(item, DCM_PrimaryDosimeterUnit, "MU", f);
  put(item, DCM_SourceAxisDistance, ds(b.sad_mm), f);
  if (!b.x_jaw_type.empty()) {
    DcmItem& d = new_item(item, DCM_BeamLimitingDeviceSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, b.x_jaw_type, f);
    put(d, DCM_NumberOfLeafJawPairs, "1", f);
  }
  if (!b.y_jaw_type.empty()) {
    DcmItem& d = new_item(item, DCM_BeamLimitingDeviceSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, b.y_jaw_type, f);
    put(d, DCM_NumberOfLeafJawPairs, "1", f);
  }
  if (b.has_mlc()) {
    DcmItem& d = new_item(item, DCM_BeamLimitingDeviceSequence, f);
    put(d, DCM_RTBeamLimitingDeviceType, "MLCX", f);
    put(d, DCM_NumberOfLeafJawPairs, std::to_string(b.pair_count()), f);
    put(d, DCM_LeafPositionBoundaries, ds_list(b.leaf_boundaries_mm), f);
  }
  put(item, DCM_ReferencedPatientSetupNumber, "1", f);
  put(item, DCM_TreatmentDeliveryType, b.delivery_type, f);
  put(item, DCM_NumberOfWedges, "0", f);
  put(item, DCM_NumberOfCompensators, "0", f);
  put(item, DCM_NumberOfBoli, "0", f);
  put(item, DCM_NumberOfBlocks, "0", f);
  put(item, DCM_FinalCumulativeMetersetWeight, ds(b.final_cumulative_meterset_weight), f);
  put(item, DCM_NumberOfControlPoints, std::to_string(b.control_points.size()), f);
  for (size_t i = 0; i < b.control_points.size(); ++i)
    put_control_point(new_item(item, DCM_ControlPointSequence, f), b, i, f);
}

}  // namespace

std::string write_rtplan(const DeliveryPlan& plan, const std::string& f) {
  if (plan.beams.empty()) throw ProcessingError(f + ": the plan has no beams");
  const DicomIdentity& id = plan.identity;
  const std::string sop = or_uid(plan.sop_instance_uid);
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put(d, DCM_SpecificCharacterSet, "ISO_IR 100", f);
  put(d, DCM_InstanceCreationDate, rt::today_da(), f);
  put(d, DCM_InstanceCreationTime, rt::now_tm(), f);
  put(d, DCM_SOPClassUID, rt::kRtPlanStorage, f);
  put(d, DCM_SOPInstanceUID, sop, f);
  // Patient, General Study, RT Series, Frame of Reference, General Equipment.
  rt::put_patient_study_series(d, id, "RTPLAN", "vmatplan RT Plan", f);
  // RT General Plan (C.8.8.9).
  put(d, DCM_RTPlanLabel, plan.label.empty() ? "vmatplan" : plan.label.substr(0, 16), f);
  put(d, DCM_RTPlanName, plan.label, f);
  put(d, DCM_RTPlanDate, rt::today_da(), f);
  put(d, DCM_RTPlanTime, rt::now_tm(), f);
  put(d, DCM_PlanIntent, "CURATIVE", f);
  if (!id.structure_set_sop_instance_uid.empty()) {
    put(d, DCM_RTPlanGeometry, "PATIENT", f);
    DcmItem& r = new_item(d, DCM_ReferencedStructureSetSequence, f);
    put(r, DCM_ReferencedSOPClassUID, rt::kRtStructureSetStorage, f);
    put(r, DCM_ReferencedSOPInstanceUID, id.structure_set_sop_instance_uid, f);
  } else {
    put(d, DCM_RTPlanGeometry, "TREATMENT_DEVICE", f);
  }
  // RT Prescription (C.8.8.10): the target's prescription.
  {
    DcmItem& r = new_item(d, DCM_DoseReferenceSequence, f);
    put(r, DCM_DoseReferenceNumber, "1", f);
    put(r, DCM_DoseReferenceUID, make_uid(), f);
    put(r, DCM_DoseReferenceStructureType, "SITE", f);
    put(r, DCM_DoseReferenceDescription, plan.target_name, f);
    put(r, DCM_DoseReferenceType, "TARGET", f);
    if (plan.prescription_dose_gy > 0)
      put(r, DCM_TargetPrescriptionDose, ds(plan.prescription_dose_gy), f);
  }
  // RT Patient Setup (C.8.8.12).
  {
    DcmItem& s = new_item(d, DCM_PatientSetupSequence, f);
    put(s, DCM_PatientSetupNumber, "1", f);
    put(s, DCM_PatientPosition, plan.patient_position.empty() ? "HFS" : plan.patient_position, f);
  }
  // RT Fraction Scheme (C.8.8.13): beam meterset in MU per fraction.
  {
    DcmItem& g = new_item(d, DCM_FractionGroupSequence, f);
    put(g, DCM_FractionGroupNumber, "1", f);
    put(g, DCM_NumberOfFractionsPlanned, std::to_string(plan.fractions), f);
    put(g, DCM_NumberOfBeams, std::to_string(plan.beams.size()), f);
    put(g, DCM_NumberOfBrachyApplicationSetups, "0", f);
    for (const auto& b : plan.beams) {
      DcmItem& r = new_item(g, DCM_ReferencedBeamSequence, f);
      put(r, DCM_BeamMeterset, ds(b.meterset_mu), f);
      put(r, DCM_ReferencedBeamNumber, std::to_string(b.number), f);
    }
  }
  for (const auto& b : plan.beams) put_beam(new_item(d, DCM_BeamSequence, f), b, f);

  OFCondition c = ff.saveFile(f.c_str(), EXS_LittleEndianExplicit);
  if (c.bad()) throw InputError(f, std::string("cannot write DICOM file: ") + c.text());
  return sop;
}

}  // namespace vmatplan
