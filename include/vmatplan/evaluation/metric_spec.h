#pragma once
// MetricSpec: a DVH metric written the way clinics write it, parsed from text.
//
//   MetricSpec m = parse_metric("V40.8Gy");        // volume (%) receiving >= 40.8 Gy
//   MetricSpec c = parse_metric("V40.8Gy", "cc");  // the same in cc
//   parse_metric("D95%"), parse_metric("D0.03cc"), parse_metric("Dmean"),
//   parse_metric("Dmax"), parse_metric("Dmin"), parse_metric("HI"), parse_metric("CI"),
//   parse_metric("GI")
//
// Doses in Gy, volumes in % of the structure or cc. HI, CI and GI are unitless and are
// computed relative to the prescription (see dose_metrics.h).
#include <string>

namespace vmatplan {

enum class MetricKind {
  kDoseAtVolumePct,  // Dx%: minimum dose to the hottest x % of the volume (Gy)
  kDoseAtVolumeCc,   // Dxcc: minimum dose to the hottest x cc (Gy)
  kVolumeAtDosePct,  // Vx Gy: volume receiving >= x Gy, % of the structure
  kVolumeAtDoseCc,   // Vx Gy in cc
  kMeanDose,         // Gy
  kMaxDose,          // Gy (voxel maximum; D0.03cc is the clinical "near max")
  kMinDose,          // Gy
  kHomogeneityIndex,  // ICRU 83: (D2% - D98%) / D50%
  kConformityIndex,   // Paddick 2000: TV_PIV^2 / (TV * PIV)
  kGradientIndex,     // Paddick & Lippitz 2006: PIV_50% / PIV_100%
};

struct MetricSpec {
  MetricKind kind = MetricKind::kMeanDose;
  double parameter = 0.0;  // x in Dx%, Dxcc, Vx Gy; unused otherwise
  std::string text;        // the metric as written, e.g. "V40.8Gy"

  // "Gy", "%", "cc" or "" (unitless indices): the unit of the value this metric yields.
  std::string value_unit() const;
};

// Throws UsageError naming the text when it is not one of the forms above.
// volume_unit: "%" (default) or "cc", for V metrics only.
MetricSpec parse_metric(const std::string& text, const std::string& volume_unit = "%");

}  // namespace vmatplan
