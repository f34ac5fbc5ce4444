// Metrics on known distributions: ICRU 83 HI, Paddick CI, Paddick-Lippitz GI, metric text.
#include <catch2/catch.hpp>

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/dose_metrics.h"

using namespace vmatplan;

TEST_CASE("Dose metrics of voxel doses 1..1000 Gy", "[evaluation][metrics]") {
  std::vector<float> d;
  for (int i = 1; i <= 1000; ++i) d.push_back(static_cast<float>(i));
  const Dvh dvh(d, 0.001);  // 1 mm3 voxels: 1 cc in total
  const DoseMetrics m = compute_dose_metrics(dvh);
  CHECK(m.volume_cc == Approx(1.0));
  CHECK(m.mean_gy == Approx(500.5));
  CHECK(m.min_gy == Approx(1.0));
  CHECK(m.max_gy == Approx(1000.0));
  // Hottest 980 voxels are 21..1000 -> D98 = 21; D2 = 981; D50 = 501; D95 = 51.
  CHECK(m.d98_gy == Approx(21.0));
  CHECK(m.d2_gy == Approx(981.0));
  CHECK(m.d50_gy == Approx(501.0));
  CHECK(m.d95_gy == Approx(51.0));
  CHECK(m.d0_03cc_gy == Approx(971.0));  // hottest 30 voxels
  CHECK(m.homogeneity_index == Approx((981.0 - 21.0) / 501.0));  // ICRU 83
  CHECK(metric_value(parse_metric("D2%"), dvh) == Approx(981.0));
  CHECK(metric_value(parse_metric("V500Gy"), dvh) == Approx(50.1));
  CHECK(metric_value(parse_metric("V500Gy", "cc"), dvh) == Approx(0.501));
  CHECK(metric_value(parse_metric("Dmean"), dvh) == Approx(500.5));
  CHECK(metric_value(parse_metric("HI"), dvh) == Approx(m.homogeneity_index));
  CHECK_THROWS_AS(metric_value(parse_metric("CI"), dvh), ProcessingError);
}

TEST_CASE("A uniform target dose has HI 0", "[evaluation][metrics]") {
  const Dvh dvh(std::vector<float>(500, 60.0f), 0.001);
  CHECK(homogeneity_index(dvh) == Approx(0.0).margin(1e-12));
}

TEST_CASE("Paddick CI and gradient index on boxes", "[evaluation][metrics]") {
  ImageGrid g;
  g.size = {40, 40, 40};
  g.spacing_mm = {1, 1, 1};
  // Target: 10^3 voxels. Prescription isodose: a 12^3 box around it, shifted by one voxel
  // in x, so 9 x 10 x 10 target voxels are covered. Half-prescription isodose: a 20^3 box.
  Mask target(g, 0), body(g, 1);
  DoseImage dose(g, 0.0f);
  for (int k = 0; k < 40; ++k)
    for (int j = 0; j < 40; ++j)
      for (int i = 0; i < 40; ++i) {
        if (i >= 15 && i < 25 && j >= 15 && j < 25 && k >= 15 && k < 25) target.at(i, j, k) = 1;
        if (i >= 10 && i < 30 && j >= 10 && j < 30 && k >= 10 && k < 30) dose.at(i, j, k) = 35.0f;
        if (i >= 16 && i < 28 && j >= 14 && j < 26 && k >= 14 && k < 26) dose.at(i, j, k) = 60.0f;
      }
  const TargetIndices t = compute_target_indices(dose, target, 60.0, &body);
  CHECK(t.tv_cc == Approx(1.0));
  CHECK(t.piv_cc == Approx(1.728));
  CHECK(t.tv_piv_cc == Approx(0.9));
  CHECK(t.paddick_ci == Approx(0.9 * 0.9 / (1.0 * 1.728)));  // Paddick 2000
  CHECK(t.piv50_cc == Approx(8.0));
  CHECK(t.gradient_index == Approx(8.0 / 1.728));  // Paddick & Lippitz 2006
  // Outside the body nothing counts towards the isodose volumes (target voxels excepted).
  Mask small_body(g, 0);
  for (int k = 0; k < 40; ++k)
    for (int j = 0; j < 40; ++j)
      for (int i = 0; i < 20; ++i) small_body.at(i, j, k) = 1;
  const TargetIndices half = compute_target_indices(dose, target, 60.0, &small_body);
  CHECK(half.piv_cc < t.piv_cc);
  CHECK(half.tv_piv_cc == Approx(0.9));
}

TEST_CASE("Metric text is parsed strictly", "[evaluation][metrics]") {
  CHECK(parse_metric("D95%").kind == MetricKind::kDoseAtVolumePct);
  CHECK(parse_metric("D0.03cc").kind == MetricKind::kDoseAtVolumeCc);
  CHECK(parse_metric("D0.03cc").parameter == Approx(0.03));
  CHECK(parse_metric("V40.8Gy").kind == MetricKind::kVolumeAtDosePct);
  CHECK(parse_metric("V40.8Gy").parameter == Approx(40.8));
  CHECK(parse_metric("v36gy", "cc").kind == MetricKind::kVolumeAtDoseCc);
  CHECK(parse_metric("Dmax").kind == MetricKind::kMaxDose);
  CHECK(parse_metric("GI").value_unit().empty());
  CHECK(parse_metric("V20Gy").value_unit() == "%");
  for (const char* bad : {"D95", "V40", "D101%", "X5%", "Dfoo", "V-3Gy", ""})
    CHECK_THROWS_AS(parse_metric(bad), UsageError);
  CHECK_THROWS_AS(parse_metric("V20Gy", "ml"), UsageError);
}
