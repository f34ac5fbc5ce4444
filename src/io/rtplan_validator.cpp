#include "vmatplan/io/rtplan_validator.h"

#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "rt_dicom_common.h"
#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

using rt::get_number;
using rt::get_numbers;
using rt::get_string;
using rt::has;
using rt::items;

void validate_beam(DcmItem& beam, std::vector<std::string>& out, std::map<int, bool>& treatment) {
  double v = 0;
  const int number = get_number(beam, DCM_BeamNumber, v) ? static_cast<int>(v) : -1;
  const std::string where = "beam " + std::to_string(number);
  auto bad = [&](const std::string& s) { out.push_back(where + ": " + s); };
  if (number < 0) bad("no BeamNumber");
  treatment[number] = get_string(beam, DCM_TreatmentDeliveryType) != "SETUP";

  std::map<std::string, size_t> pairs;  // device type -> pairs
  for (DcmItem* d : items(beam, DCM_BeamLimitingDeviceSequence)) {
    const std::string type = get_string(*d, DCM_RTBeamLimitingDeviceType);
    double n = 0;
    if (!get_number(*d, DCM_NumberOfLeafJawPairs, n) || n < 1) {
      bad(type + ": no NumberOfLeafJawPairs");
      continue;
    }
    pairs[type] = static_cast<size_t>(n);
    if (type.rfind("MLC", 0) == 0) {
      const auto b = get_numbers(*d, DCM_LeafPositionBoundaries);
      if (b.size() != pairs[type] + 1)
        bad(type + ": " + std::to_string(b.size()) + " LeafPositionBoundaries for " +
            std::to_string(pairs[type]) + " pairs (pairs + 1 expected)");
      for (size_t i = 1; i < b.size(); ++i)
        if (!(b[i] > b[i - 1])) {
          bad(type + ": LeafPositionBoundaries do not increase");
          break;
        }
    }
  }
  const auto cps = items(beam, DCM_ControlPointSequence);
  double declared = -1;
  if (!get_number(beam, DCM_NumberOfControlPoints, declared) || static_cast<size_t>(declared) != cps.size())
    bad("NumberOfControlPoints " + (declared < 0 ? std::string("missing") : std::to_string(static_cast<long>(declared))) +
        ", ControlPointSequence has " + std::to_string(cps.size()) + " items");
  if (cps.size() < 2) bad("fewer than 2 control points");
  double final_weight = 0;
  if (!get_number(beam, DCM_FinalCumulativeMetersetWeight, final_weight))
    bad("no FinalCumulativeMetersetWeight");

  double prev_w = -1;
  for (size_t i = 0; i < cps.size(); ++i) {
    DcmItem& c = *cps[i];
    const std::string cw = where + " cp " + std::to_string(i) + ": ";
    double idx = -1;
    if (!get_number(c, DCM_ControlPointIndex, idx) || static_cast<size_t>(idx) != i)
      out.push_back(cw + "ControlPointIndex is not " + std::to_string(i));
    if (i == 0) {
      for (const auto& [tag, name] : std::initializer_list<std::pair<DcmTagKey, const char*>>{
               {DCM_NominalBeamEnergy, "NominalBeamEnergy"},
               {DCM_DoseRateSet, "DoseRateSet"},
               {DCM_GantryAngle, "GantryAngle"},
               {DCM_GantryRotationDirection, "GantryRotationDirection"},
               {DCM_BeamLimitingDeviceAngle, "BeamLimitingDeviceAngle"},
               {DCM_PatientSupportAngle, "PatientSupportAngle"},
               {DCM_IsocenterPosition, "IsocenterPosition"}})
        if (!has(c, tag)) out.push_back(cw + "no " + name + " (control point 0 must be complete)");
      std::set<std::string> given;
      for (DcmItem* d : items(c, DCM_BeamLimitingDevicePositionSequence))
        given.insert(get_string(*d, DCM_RTBeamLimitingDeviceType));
      for (const auto& [type, n] : pairs)
        if (!given.count(type)) out.push_back(cw + "no " + type + " positions (control point 0 must be complete)");
    }
    for (DcmItem* d : items(c, DCM_BeamLimitingDevicePositionSequence)) {
      const std::string type = get_string(*d, DCM_RTBeamLimitingDeviceType);
      auto it = pairs.find(type);
      if (it == pairs.end()) {
        out.push_back(cw + type + " positions for a device the beam does not declare");
        continue;
      }
      const size_t got = get_numbers(*d, DCM_LeafJawPositions).size();
      if (got != 2 * it->second)
        out.push_back(cw + type + " has " + std::to_string(got) + " LeafJawPositions, " +
                      std::to_string(2 * it->second) + " expected");
    }
    double w = 0;
    if (!get_number(c, DCM_CumulativeMetersetWeight, w)) {
      out.push_back(cw + "no CumulativeMetersetWeight");
      continue;
    }
    if (i == 0 && w != 0) out.push_back(cw + "CumulativeMetersetWeight of control point 0 is not 0");
    if (w < prev_w) out.push_back(cw + "CumulativeMetersetWeight decreases");
    if (i + 1 == cps.size() && std::abs(w - final_weight) > 1e-6 * std::max(1.0, final_weight))
      out.push_back(cw + "last CumulativeMetersetWeight differs from FinalCumulativeMetersetWeight");
    prev_w = w;
  }
}

}  // namespace

std::vector<std::string> validate_rtplan_file(const std::string& path) {
  rt::quiet_dcmtk_log();
  DcmFileFormat ff;
  OFCondition c = ff.loadFile(path.c_str());
  if (c.bad()) throw InputError(path, std::string("cannot read DICOM file: ") + c.text());
  DcmDataset& d = *ff.getDataset();
  std::vector<std::string> out;
  if (get_string(d, DCM_SOPClassUID) != rt::kRtPlanStorage) {
    out.push_back("not an RT Plan (SOPClassUID)");
    return out;
  }
  if (get_string(d, DCM_RTPlanGeometry) == "PATIENT" && items(d, DCM_ReferencedStructureSetSequence).empty())
    out.push_back("RTPlanGeometry PATIENT without ReferencedStructureSetSequence");
  std::map<int, bool> treatment;
  const auto beams = items(d, DCM_BeamSequence);
  if (beams.empty()) out.push_back("no beams");
  for (DcmItem* b : beams) validate_beam(*b, out, treatment);
  const auto groups = items(d, DCM_FractionGroupSequence);
  if (groups.empty()) {
    out.push_back("no FractionGroupSequence");
    return out;
  }
  std::set<int> referenced;
  for (DcmItem* r : items(*groups[0], DCM_ReferencedBeamSequence)) {
    double n = 0, mu = 0;
    if (!get_number(*r, DCM_ReferencedBeamNumber, n)) continue;
    referenced.insert(static_cast<int>(n));
    if (!get_number(*r, DCM_BeamMeterset, mu) && treatment.count(static_cast<int>(n)) && treatment[static_cast<int>(n)])
      out.push_back("beam " + std::to_string(static_cast<int>(n)) + ": no BeamMeterset");
    if (!treatment.count(static_cast<int>(n)))
      out.push_back("fraction group references beam " + std::to_string(static_cast<int>(n)) + ", which does not exist");
  }
  for (const auto& [n, is_treatment] : treatment)
    if (is_treatment && !referenced.count(n))
      out.push_back("beam " + std::to_string(n) + " is not in the fraction group (no BeamMeterset)");
  double declared = -1;
  if (!get_number(*groups[0], DCM_NumberOfBeams, declared) || static_cast<size_t>(declared) != referenced.size())
    out.push_back("NumberOfBeams does not match the ReferencedBeamSequence");
  return out;
}

}  // namespace vmatplan
