#pragma once
// Dose metrics of a structure (from its DVH) and target indices (from the dose image).
//
//   DoseMetrics m = compute_dose_metrics(dvh);          // volume, mean, D95, D2, ...
//   TargetIndices t = compute_target_indices(dose_on_ct, ptv.mask, 60.0, &body.mask);
//   double v = metric_value(parse_metric("V40.8Gy"), dvh, &t);
//
// Definitions (Dx as in dvh.h: minimum dose to the hottest x):
//   HI  = (D2% - D98%) / D50%                       ICRU Report 83 (2010), sec. 3.7.1
//   CI  = TV_PIV^2 / (TV * PIV)                     Paddick, J Neurosurg 93 (2000) 219
//   GI  = PIV_50% / PIV_100%                        Paddick & Lippitz, J Neurosurg 105 (2006) 194
// TV: target volume; PIV: prescription isodose volume (volume receiving >= Rx, counted
// inside the body when a body mask is given, so air and couch do not count);
// TV_PIV: target volume receiving >= Rx; PIV_50%: volume receiving >= Rx / 2.
#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/evaluation/metric_spec.h"

namespace vmatplan {

struct DoseMetrics {
  double volume_cc = 0.0;
  double mean_gy = 0.0;
  double min_gy = 0.0;
  double max_gy = 0.0;
  double d98_gy = 0.0;   // near-minimum (ICRU 83)
  double d95_gy = 0.0;
  double d50_gy = 0.0;   // median (ICRU 83)
  double d2_gy = 0.0;    // near-maximum (ICRU 83)
  double d0_03cc_gy = 0.0;  // near-point maximum used by many protocols
  double homogeneity_index = 0.0;  // ICRU 83; 0 when D50 is 0
};

DoseMetrics compute_dose_metrics(const Dvh& dvh);

// ICRU 83 homogeneity index (D2% - D98%) / D50%; 0 when D50% is 0.
double homogeneity_index(const Dvh& dvh);

struct TargetIndices {
  double prescription_gy = 0.0;
  double tv_cc = 0.0;
  double piv_cc = 0.0;      // volume >= prescription
  double tv_piv_cc = 0.0;   // target volume >= prescription
  double piv50_cc = 0.0;    // volume >= 50 % of the prescription
  double paddick_ci = 0.0;  // 0 when TV or PIV is 0
  double gradient_index = 0.0;  // 0 when PIV is 0
};

// dose, target and body (optional) on one grid; ProcessingError when they differ.
TargetIndices compute_target_indices(const DoseImage& dose, const Mask& target,
                                     double prescription_gy, const Mask* body = nullptr);

// The value of a metric for a structure. CI and GI need the target indices (nullptr ->
// ProcessingError naming the metric); HI comes from the DVH.
double metric_value(const MetricSpec& metric, const Dvh& dvh,
                    const TargetIndices* target = nullptr);

}  // namespace vmatplan
