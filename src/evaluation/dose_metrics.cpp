#include "vmatplan/evaluation/dose_metrics.h"

#include "vmatplan/core/error.h"

namespace vmatplan {

double homogeneity_index(const Dvh& dvh) {
  const double d50 = dvh.dose_at_volume_pct(50.0);
  if (d50 <= 0.0) return 0.0;
  return (dvh.dose_at_volume_pct(2.0) - dvh.dose_at_volume_pct(98.0)) / d50;
}

DoseMetrics compute_dose_metrics(const Dvh& dvh) {
  DoseMetrics m;
  if (dvh.empty()) return m;
  m.volume_cc = dvh.volume_cc();
  m.mean_gy = dvh.mean_gy();
  m.min_gy = dvh.min_gy();
  m.max_gy = dvh.max_gy();
  m.d98_gy = dvh.dose_at_volume_pct(98.0);
  m.d95_gy = dvh.dose_at_volume_pct(95.0);
  m.d50_gy = dvh.dose_at_volume_pct(50.0);
  m.d2_gy = dvh.dose_at_volume_pct(2.0);
  m.d0_03cc_gy = dvh.dose_at_volume_cc(0.03);
  m.homogeneity_index = homogeneity_index(dvh);
  return m;
}

TargetIndices compute_target_indices(const DoseImage& dose, const Mask& target,
                                     double prescription_gy, const Mask* body) {
  if (!dose.grid.same_geometry(target.grid) || (body && !body->grid.same_geometry(dose.grid)))
    throw ProcessingError("target indices: dose, target and body must be on one grid");
  TargetIndices t;
  t.prescription_gy = prescription_gy;
  int64_t tv = 0, piv = 0, tv_piv = 0, piv50 = 0;
  const float rx = static_cast<float>(prescription_gy);
  const float half = static_cast<float>(0.5 * prescription_gy);
  for (size_t v = 0; v < dose.voxels.size(); ++v) {
    const bool in_target = target.voxels[v] != 0;
    // Target voxels always count as inside the patient, even if the body mask misses them.
    const bool in_body = !body || body->voxels[v] != 0 || in_target;
    const float d = dose.voxels[v];
    tv += in_target;
    if (!in_body) continue;
    piv += d >= rx;
    piv50 += d >= half;
    tv_piv += in_target && d >= rx;
  }
  const double cc = dose.grid.voxel_volume_mm3() / 1000.0;
  t.tv_cc = tv * cc;
  t.piv_cc = piv * cc;
  t.tv_piv_cc = tv_piv * cc;
  t.piv50_cc = piv50 * cc;
  if (tv > 0 && piv > 0)
    t.paddick_ci = static_cast<double>(tv_piv) * tv_piv / (static_cast<double>(tv) * piv);
  if (piv > 0) t.gradient_index = static_cast<double>(piv50) / piv;
  return t;
}

double metric_value(const MetricSpec& m, const Dvh& dvh, const TargetIndices* target) {
  switch (m.kind) {
    case MetricKind::kDoseAtVolumePct: return dvh.dose_at_volume_pct(m.parameter);
    case MetricKind::kDoseAtVolumeCc: return dvh.dose_at_volume_cc(m.parameter);
    case MetricKind::kVolumeAtDosePct: return dvh.volume_at_dose_pct(m.parameter);
    case MetricKind::kVolumeAtDoseCc: return dvh.volume_at_dose_cc(m.parameter);
    case MetricKind::kMeanDose: return dvh.mean_gy();
    case MetricKind::kMaxDose: return dvh.max_gy();
    case MetricKind::kMinDose: return dvh.min_gy();
    case MetricKind::kHomogeneityIndex: return homogeneity_index(dvh);
    case MetricKind::kConformityIndex:
    case MetricKind::kGradientIndex:
      if (!target)
        throw ProcessingError("metric '" + m.text + "' needs the prescription isodose volume "
                              "(a target structure and a prescription)");
      return m.kind == MetricKind::kConformityIndex ? target->paddick_ci : target->gradient_index;
  }
  return 0.0;
}

}  // namespace vmatplan
