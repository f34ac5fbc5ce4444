#include "vmatplan/io/rtplan_reader.h"

#include <dcmtk/dcmdata/dcfilefo.h>

#include <map>

#include "rt_dicom_common.h"
#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

using rt::get_number;
using rt::get_numbers;
using rt::get_string;
using rt::items;

RotationDirection direction_of(const std::string& s) {
  if (s == "CW") return RotationDirection::kClockwise;
  if (s == "CC") return RotationDirection::kCounterClockwise;
  return RotationDirection::kNone;
}

void read_devices(DcmItem& beam_item, DeliveryBeam& b, const std::string& path) {
  b.x_jaw_type.clear();
  b.y_jaw_type.clear();
  for (DcmItem* d : items(beam_item, DCM_BeamLimitingDeviceSequence)) {
    const std::string type = get_string(*d, DCM_RTBeamLimitingDeviceType);
    if (type == "X" || type == "ASYMX") b.x_jaw_type = type;
    else if (type == "Y" || type == "ASYMY") b.y_jaw_type = type;
    else if (type == "MLCX") {
      b.leaf_boundaries_mm = get_numbers(*d, DCM_LeafPositionBoundaries);
      double pairs = 0;
      if (!get_number(*d, DCM_NumberOfLeafJawPairs, pairs) ||
          static_cast<size_t>(pairs) + 1 != b.leaf_boundaries_mm.size())
        throw InputError(path, "beam '" + b.name + "': MLCX LeafPositionBoundaries holds " +
                                   std::to_string(b.leaf_boundaries_mm.size()) +
                                   " values, NumberOfLeafJawPairs + 1 expected");
    } else {
      throw InputError(path, "beam '" + b.name + "': beam limiting device '" + type +
                                 "' is not supported (X, Y, ASYMX, ASYMY, MLCX)");
    }
  }
}

void read_positions(DcmItem& cp_item, const DeliveryBeam& b, DeliveryControlPoint& cp,
                    const std::string& path, size_t index) {
  for (DcmItem* d : items(cp_item, DCM_BeamLimitingDevicePositionSequence)) {
    const std::string type = get_string(*d, DCM_RTBeamLimitingDeviceType);
    const std::vector<double> v = get_numbers(*d, DCM_LeafJawPositions);
    auto bad = [&](size_t expected) {
      throw InputError(path, "beam '" + b.name + "' control point " + std::to_string(index) + ": " +
                                 type + " has " + std::to_string(v.size()) + " positions, " +
                                 std::to_string(expected) + " expected");
    };
    if (type == "X" || type == "ASYMX") {
      if (v.size() != 2) bad(2);
      cp.x1_mm = v[0], cp.x2_mm = v[1];
    } else if (type == "Y" || type == "ASYMY") {
      if (v.size() != 2) bad(2);
      cp.y1_mm = v[0], cp.y2_mm = v[1];
    } else if (type == "MLCX") {
      const size_t n = b.pair_count();
      if (v.size() != 2 * n) bad(2 * n);
      cp.leaf_x1_mm.assign(v.begin(), v.begin() + n);  // leaves 1xx (X1) first
      cp.leaf_x2_mm.assign(v.begin() + n, v.end());
    }
  }
}

// The values control point 0 must carry, and every declared device's positions there.
void require_cp0(DcmItem& c, const DeliveryBeam& b, const std::string& path) {
  const std::string at = "beam '" + b.name + "' control point 0: ";
  const std::pair<DcmTagKey, const char*> required[] = {
      {DCM_GantryAngle, "GantryAngle (300A,011E)"},
      {DCM_BeamLimitingDeviceAngle, "BeamLimitingDeviceAngle (300A,0120)"},
      {DCM_PatientSupportAngle, "PatientSupportAngle (300A,0122)"},
      {DCM_CumulativeMetersetWeight, "CumulativeMetersetWeight (300A,0134)"},
      {DCM_NominalBeamEnergy, "NominalBeamEnergy (300A,0114)"}};
  for (const auto& [tag, name] : required)
    if (!rt::has(c, tag)) throw InputError(path, at + "no " + name);
  if (get_numbers(c, DCM_IsocenterPosition).size() != 3)
    throw InputError(path, at + "no IsocenterPosition (300A,012C) with 3 values");
  std::vector<std::string> given;
  for (DcmItem* d : items(c, DCM_BeamLimitingDevicePositionSequence))
    given.push_back(get_string(*d, DCM_RTBeamLimitingDeviceType));
  auto need = [&](const std::string& type) {
    if (type.empty()) return;
    for (const auto& g : given)
      if (g == type) return;
    throw InputError(path, at + "no " + type + " positions (BeamLimitingDevicePositionSequence)");
  };
  need(b.x_jaw_type);
  need(b.y_jaw_type);
  if (b.has_mlc()) need("MLCX");
}

DeliveryBeam read_beam(DcmItem& item, const std::string& path) {
  DeliveryBeam b;
  double v = 0;
  b.number = get_number(item, DCM_BeamNumber, v) ? static_cast<int>(v) : 0;
  b.name = get_string(item, DCM_BeamName);
  b.machine_name = get_string(item, DCM_TreatmentMachineName);
  b.beam_type = get_string(item, DCM_BeamType);
  b.radiation_type = get_string(item, DCM_RadiationType);
  b.delivery_type = get_string(item, DCM_TreatmentDeliveryType);
  if (b.delivery_type.empty()) b.delivery_type = "TREATMENT";
  b.sad_mm = get_number(item, DCM_SourceAxisDistance, v) ? v : 1000.0;
  b.final_cumulative_meterset_weight =
      get_number(item, DCM_FinalCumulativeMetersetWeight, v) ? v : 1.0;
  read_devices(item, b, path);

  const auto cps = items(item, DCM_ControlPointSequence);
  if (cps.empty()) throw InputError(path, "beam '" + b.name + "' has no control points");
  DeliveryControlPoint state;  // carried forward (C.8.8.14: later items hold what changes)
  b.dose_rate_mu_per_min = 0;
  b.energy_mv = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    DcmItem& c = *cps[i];
    // A value that is present but not a finite number is an error, never "absent".
    auto number = [&](DcmItem& item, const DcmTagKey& tag, double& out) {
      if (!rt::has(item, tag)) return false;
      if (!get_number(item, tag, out))
        throw InputError(path, "beam '" + b.name + "' control point " + std::to_string(i) + ": " +
                                   DcmTag(tag).getTagName() + " '" + get_string(item, tag) +
                                   "' is not a finite number");
      return true;
    };
    state.dose_rate_mu_per_min = 0;
    if (i == 0) {
      // Control point 0 carries every parameter (C.8.8.14.5); later ones what changes.
      require_cp0(c, b, path);
      if (number(c, DCM_NominalBeamEnergy, v)) b.energy_mv = v;
      if (number(c, DCM_DoseRateSet, v)) b.dose_rate_mu_per_min = v;
      const auto iso = get_numbers(c, DCM_IsocenterPosition);
      if (iso.size() == 3) b.isocenter_mm = {iso[0], iso[1], iso[2]};
    } else if (number(c, DCM_DoseRateSet, v)) {
      state.dose_rate_mu_per_min = v;
    }
    if (number(c, DCM_GantryAngle, v)) state.gantry_deg = v;
    if (rt::has(c, DCM_GantryRotationDirection))
      state.gantry_direction = direction_of(get_string(c, DCM_GantryRotationDirection));
    if (number(c, DCM_BeamLimitingDeviceAngle, v)) state.collimator_deg = v;
    if (number(c, DCM_PatientSupportAngle, v)) state.couch_deg = v;
    read_positions(c, b, state, path, i);
    if (number(c, DCM_CumulativeMetersetWeight, v)) state.cumulative_meterset_weight = v;
    b.control_points.push_back(state);
  }
  return b;
}

}  // namespace

DeliveryPlan read_rtplan(const std::string& path) {
  rt::quiet_dcmtk_log();
  DcmFileFormat ff;
  OFCondition c = ff.loadFile(path.c_str());
  if (c.bad()) throw InputError(path, std::string("cannot read DICOM file: ") + c.text());
  DcmDataset& d = *ff.getDataset();
  const std::string sop_class = get_string(d, DCM_SOPClassUID);
  if (sop_class != rt::kRtPlanStorage)
    throw InputError(path, "not an RT Plan (SOP class '" + sop_class + "', modality '" +
                               get_string(d, DCM_Modality) + "')");
  DeliveryPlan p;
  p.label = get_string(d, DCM_RTPlanLabel);
  p.sop_instance_uid = get_string(d, DCM_SOPInstanceUID);
  DicomIdentity& id = p.identity;
  id.patient_id = get_string(d, DCM_PatientID);
  id.patient_name = get_string(d, DCM_PatientName);
  id.study_instance_uid = get_string(d, DCM_StudyInstanceUID);
  id.frame_of_reference_uid = get_string(d, DCM_FrameOfReferenceUID);
  for (DcmItem* r : items(d, DCM_ReferencedStructureSetSequence)) {
    id.structure_set_sop_instance_uid = get_string(*r, DCM_ReferencedSOPInstanceUID);
    break;
  }
  for (DcmItem* s : items(d, DCM_PatientSetupSequence)) {
    const std::string pos = get_string(*s, DCM_PatientPosition);
    if (!pos.empty()) p.patient_position = id.patient_position = pos;
    break;
  }
  double v = 0;
  for (DcmItem* r : items(d, DCM_DoseReferenceSequence))
    if (get_number(*r, DCM_TargetPrescriptionDose, v)) {
      p.prescription_dose_gy = v;
      p.target_name = get_string(*r, DCM_DoseReferenceDescription);
      break;
    }
  std::map<int, double> meterset;
  const auto groups = items(d, DCM_FractionGroupSequence);
  if (!groups.empty()) {
    if (get_number(*groups[0], DCM_NumberOfFractionsPlanned, v) && v >= 1) p.fractions = static_cast<int>(v);
    for (DcmItem* r : items(*groups[0], DCM_ReferencedBeamSequence)) {
      double number = 0, mu = 0;
      if (get_number(*r, DCM_ReferencedBeamNumber, number) && get_number(*r, DCM_BeamMeterset, mu))
        meterset[static_cast<int>(number)] = mu;
    }
  }
  for (DcmItem* b : items(d, DCM_BeamSequence)) {
    DeliveryBeam beam = read_beam(*b, path);
    auto it = meterset.find(beam.number);
    beam.meterset_mu = it == meterset.end() ? 0.0 : it->second;
    p.beams.push_back(std::move(beam));
  }
  if (p.beams.empty()) throw InputError(path, "RT Plan has no beams (BeamSequence is empty)");
  validate_delivery_plan(p, path);
  return p;
}

}  // namespace vmatplan
