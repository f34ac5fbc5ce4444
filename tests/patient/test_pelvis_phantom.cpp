#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

#include "vmatplan/core/contour_rasterizer.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_stats.h"

using namespace vmatplan;

namespace {

PelvisPhantomOptions small_options(uint64_t seed) {
  PelvisPhantomOptions o;
  o.seed = seed;
  o.spacing_mm = {2.0, 2.0, 3.0};
  return o;
}

const Structure& get(const Patient& p, const std::string& name) {
  const Structure* s = p.find_structure(name);
  REQUIRE(s != nullptr);
  return *s;
}

int64_t count(const Mask& m) { return std::count(m.voxels.begin(), m.voxels.end(), uint8_t(1)); }

// Voxels of a that are not in b.
int64_t outside_of(const Mask& a, const Mask& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i) n += (a.voxels[i] && !b.voxels[i]);
  return n;
}

int64_t overlap(const Mask& a, const Mask& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i) n += (a.voxels[i] && b.voxels[i]);
  return n;
}

double median_hu(const Patient& p, const Mask& m) {
  std::vector<float> v;
  for (size_t i = 0; i < m.voxels.size(); ++i)
    if (m.voxels[i]) v.push_back(p.ct_hu.voxels[i]);
  REQUIRE(!v.empty());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

const char* kNames[] = {"BODY",   "PTV",     "CTV",           "Prostate",     "SeminalVesicles",
                        "Rectum", "Bladder", "FemoralHead_L", "FemoralHead_R"};

}  // namespace

TEST_CASE("phantom is deterministic per seed and differs between seeds", "[phantom]") {
  Patient a = make_pelvis_phantom(small_options(3));
  Patient b = make_pelvis_phantom(small_options(3));
  Patient c = make_pelvis_phantom(small_options(4));
  CHECK(a.ct_hu.voxels == b.ct_hu.voxels);
  REQUIRE(a.structures.size() == b.structures.size());
  for (size_t s = 0; s < a.structures.size(); ++s) {
    CHECK(a.structures[s].mask.voxels == b.structures[s].mask.voxels);
    CHECK(a.structures[s].contours.size() == b.structures[s].contours.size());
  }
  CHECK(a.identity.study_instance_uid == b.identity.study_instance_uid);
  CHECK(a.identity.study_instance_uid != c.identity.study_instance_uid);
  CHECK(a.identity.patient_id == "PHANTOM-3");
  CHECK(a.identity.patient_name == "Phantom^Pelvis3");
  CHECK(a.ct_hu.voxels != c.ct_hu.voxels);
  CHECK(count(get(a, "Prostate").mask) != count(get(c, "Prostate").mask));
}

TEST_CASE("phantom structures are present, typed, nested and apart", "[phantom]") {
  for (uint64_t seed : {1, 2, 5}) {
    PhantomTruth truth;
    Patient p = make_pelvis_phantom(small_options(seed), &truth);
    INFO("seed " << seed);
    REQUIRE(p.structures.size() == 9);
    for (size_t i = 0; i < 9; ++i) {
      const Structure& s = p.structures[i];
      CHECK(s.name == kNames[i]);
      CHECK(s.number == int(i) + 1);
      CHECK(count(s.mask) > 0);
      CHECK(!s.contours.empty());
      CHECK(s.mask.grid.same_geometry(p.ct_hu.grid));
    }
    CHECK(get(p, "BODY").type == "EXTERNAL");
    CHECK(get(p, "PTV").type == "PTV");
    CHECK(get(p, "CTV").type == "CTV");
    const Mask& body = get(p, "BODY").mask;
    for (const char* name : kNames) CHECK(outside_of(get(p, name).mask, body) == 0);
    const Mask& ctv = get(p, "CTV").mask;
    CHECK(outside_of(ctv, get(p, "PTV").mask) == 0);
    CHECK(outside_of(get(p, "Prostate").mask, ctv) == 0);
    CHECK(outside_of(get(p, "SeminalVesicles").mask, ctv) == 0);
    CHECK(count(ctv) == count(get(p, "Prostate").mask) + count(get(p, "SeminalVesicles").mask));
    // A 6 mm margin roughly doubles a 20-80 cc CTV.
    CHECK(count(get(p, "PTV").mask) > 1.5 * count(ctv));
    const char* organs[] = {"Prostate", "SeminalVesicles", "Rectum", "Bladder",
                            "FemoralHead_L", "FemoralHead_R"};
    for (const char* x : organs)
      for (const char* y : organs)
        if (std::string(x) < y) CHECK(overlap(get(p, x).mask, get(p, y).mask) == 0);
    // The bladder sits above the prostate, the rectum behind it (LPS: +z up, +y back).
    auto sp = compute_structure_stats(get(p, "Prostate").mask);
    auto sb = compute_structure_stats(get(p, "Bladder").mask);
    auto sr = compute_structure_stats(get(p, "Rectum").mask);
    auto sl = compute_structure_stats(get(p, "FemoralHead_L").mask);
    CHECK(sb.centroid_mm[2] > sp.bbox_max_mm[2]);
    CHECK(sr.centroid_mm[1] > sp.centroid_mm[1] + 15);
    CHECK(sl.centroid_mm[0] > 75);
    CHECK(sp.volume_cc == Approx(truth.analytic_volume_cc.at("Prostate")).epsilon(0.05));
    CHECK(truth.parameters.at("bladder_volume_cc") >= 80);
    CHECK(truth.parameters.at("bladder_volume_cc") <= 500);
  }
}

TEST_CASE("phantom tissues have their Hounsfield units", "[phantom]") {
  Patient p = make_pelvis_phantom(small_options(2));
  CHECK(median_hu(p, get(p, "Prostate").mask) == Approx(45).margin(1));
  CHECK(median_hu(p, get(p, "Bladder").mask) == Approx(10).margin(1));
  CHECK(median_hu(p, get(p, "FemoralHead_L").mask) >= 200);
  CHECK(median_hu(p, get(p, "FemoralHead_R").mask) <= 1000);
  const Mask& body = get(p, "BODY").mask;
  int64_t air = 0, outside = 0, fat = 0, bone = 0, cortical = 0, out_of_range = 0;
  for (size_t i = 0; i < body.voxels.size(); ++i) {
    float hu = p.ct_hu.voxels[i];
    if (!body.voxels[i]) {
      ++outside;
      air += (hu == -1000.0f);
    } else {
      fat += (hu == -100.0f);
      bone += (hu >= 200.0f);
      cortical += (hu >= 800.0f);
    }
    out_of_range += (hu < -1024.0f || hu > 3071.0f);
  }
  CHECK(out_of_range == 0);
  CHECK(air == outside);
  CHECK(fat > count(body) / 10);  // a subcutaneous fat layer
  CHECK(bone > 0);
  CHECK(cortical > 0);
  CHECK(cortical < bone);

  // Noise is seeded too and leaves the mean alone.
  PelvisPhantomOptions noisy = small_options(2);
  noisy.noise_hu = 20;
  Patient q = make_pelvis_phantom(noisy);
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  const Mask& bl = get(q, "Bladder").mask;
  for (size_t i = 0; i < bl.voxels.size(); ++i)
    if (bl.voxels[i]) sum += q.ct_hu.voxels[i], sum2 += q.ct_hu.voxels[i] * q.ct_hu.voxels[i], ++n;
  double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  CHECK(mean == Approx(10).margin(1));
  CHECK(sd == Approx(20).margin(1.5));
}

TEST_CASE("some seeds have rectal gas, shown as gas in the CT", "[phantom]") {
  int with_gas = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    PhantomTruth t;
    PelvisPhantomOptions o = small_options(seed);
    o.spacing_mm = {3.0, 3.0, 4.0};
    Patient p = make_pelvis_phantom(o, &t);
    const Mask& rect = get(p, "Rectum").mask;
    int64_t gas = 0;
    for (size_t i = 0; i < rect.voxels.size(); ++i) gas += rect.voxels[i] && p.ct_hu.voxels[i] < -800;
    INFO("seed " << seed);
    CHECK((gas > 0) == (t.parameters.at("rectal_gas") == 1.0));
    with_gas += gas > 0;
  }
  CHECK(with_gas >= 2);
  CHECK(with_gas <= 9);
}

TEST_CASE("phantom contours rasterize back to the masks", "[phantom]") {
  Patient p = make_pelvis_phantom(small_options(6));
  for (const char* name : {"Prostate", "Rectum", "Bladder", "PTV", "BODY"}) {
    const Structure& s = get(p, name);
    Mask back = rasterize_contours(s.contours, p.ct_hu.grid);
    INFO(name);
    CHECK(dice(back, s.mask) > 0.97);
  }
}

TEST_CASE("every patient position holds the same anatomy", "[phantom]") {
  PelvisPhantomOptions o = small_options(7);
  Patient hfs = make_pelvis_phantom(o);
  for (const char* pos : {"FFS", "HFP", "FFP"}) {
    o.patient_position = pos;
    Patient q = make_pelvis_phantom(o);
    INFO(pos);
    CHECK(q.identity.patient_position == pos);
    CHECK(q.ct_hu.grid.orientation_code() != hfs.ct_hu.grid.orientation_code());
    for (size_t s = 0; s < hfs.structures.size(); ++s) {
      auto a = compute_structure_stats(hfs.structures[s].mask);
      auto b = compute_structure_stats(q.structures[s].mask);
      INFO(hfs.structures[s].name);
      CHECK(a.volume_cc == Approx(b.volume_cc).epsilon(1e-6));
      for (int ax = 0; ax < 3; ++ax)
        CHECK(std::abs(a.centroid_mm[ax] - b.centroid_mm[ax]) < o.spacing_mm[ax]);
    }
  }
  o.patient_position = "XYZ";
  CHECK_THROWS(make_pelvis_phantom(o));
}

TEST_CASE("analytic volumes match the masks within 1 % at the default grid",
          "[phantom][slow]") {
  PhantomTruth truth;
  Patient p = make_pelvis_phantom(PelvisPhantomOptions{}, &truth);
  CHECK(p.ct_hu.grid.size == Size3{420, 320, 80});
  REQUIRE(truth.analytic_volume_cc.size() == 4);
  for (const auto& [name, cc] : truth.analytic_volume_cc) {
    INFO(name);
    CHECK(compute_structure_stats(get(p, name).mask).volume_cc == Approx(cc).epsilon(0.01));
  }
}
