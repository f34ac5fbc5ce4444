#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/iec61217.h"

using namespace vmatplan;

namespace {

const Vec3 kIso{12.0, -30.0, 55.0};

// The source position relative to the isocentre, in LPS, divided by the SAD.
Vec3 source_dir(const std::string& pos, double gantry, double coll = 0, double couch = 0) {
  BeamTransform t(pos, kIso, gantry, coll, couch, 1000.0);
  Vec3 s = t.source_lps();
  return {(s[0] - kIso[0]) / 1000.0, (s[1] - kIso[1]) / 1000.0, (s[2] - kIso[2]) / 1000.0};
}

void check_vec(const Vec3& a, const Vec3& b, double tol = 1e-9) {
  for (int i = 0; i < 3; ++i) CHECK(a[i] == Approx(b[i]).margin(tol));
}

}  // namespace

TEST_CASE("patient -> support matrices are proper rotations", "[geometry][iec]") {
  for (const char* pos : {"HFS", "FFS", "HFP", "FFP"}) {
    Mat3 m = lps_to_iec_support(pos);
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                 m[2] * (m[3] * m[7] - m[4] * m[6]);
    CHECK(det == Approx(1.0));
  }
  CHECK_THROWS_AS(lps_to_iec_support("HFDR"), UsageError);
}

TEST_CASE("HFS: source anterior at 0, patient left at 90, posterior at 180", "[geometry][iec]") {
  check_vec(source_dir("HFS", 0), {0, -1, 0});
  check_vec(source_dir("HFS", 90), {1, 0, 0});
  check_vec(source_dir("HFS", 180), {0, 1, 0});
  check_vec(source_dir("HFS", 270), {-1, 0, 0});
  // The beam travels from the source to the isocentre.
  BeamTransform t("HFS", kIso, 0, 0, 0);
  check_vec(t.beam_direction_lps(), {0, 1, 0});
}

TEST_CASE("FFS: gantry 90 puts the source at the patient's right", "[geometry][iec]") {
  check_vec(source_dir("FFS", 0), {0, -1, 0});
  check_vec(source_dir("FFS", 90), {-1, 0, 0});
  check_vec(source_dir("FFS", 180), {0, 1, 0});
}

TEST_CASE("prone: gantry 0 is posterior; left/right follow head/feet first", "[geometry][iec]") {
  check_vec(source_dir("HFP", 0), {0, 1, 0});
  check_vec(source_dir("HFP", 90), {-1, 0, 0});  // head first prone: right side up at +X_f
  check_vec(source_dir("HFP", 180), {0, -1, 0});
  check_vec(source_dir("FFP", 0), {0, 1, 0});
  check_vec(source_dir("FFP", 90), {1, 0, 0});
  check_vec(source_dir("FFP", 180), {0, -1, 0});
}

TEST_CASE("BLD axes at gantry 0: leaf pairs stack head-feet", "[geometry][iec]") {
  // BLD +y (IEC Y_b) points to the gantry: superior for head-first, inferior for feet-first.
  for (auto [pos, y_sign, x_sign] : {std::tuple<const char*, double, double>{"HFS", 1, 1},
                                     {"FFS", -1, -1}, {"HFP", 1, -1}, {"FFP", -1, 1}}) {
    INFO(pos);
    BeamTransform t(pos, kIso, 0, 0, 0);
    check_vec(t.bld_to_patient({0, 10, 0}), {kIso[0], kIso[1], kIso[2] + 10 * y_sign});
    check_vec(t.bld_to_patient({10, 0, 0}), {kIso[0] + 10 * x_sign, kIso[1], kIso[2]});
  }
}

TEST_CASE("couch rotation moves the source relative to the patient", "[geometry][iec]") {
  // Gantry 0: the source is on the couch rotation axis and stays anterior.
  check_vec(source_dir("HFS", 0, 0, 90), {0, -1, 0});
  // Gantry 90 with couch 90 (counter-clockwise seen from above): the patient's feet have
  // swung to +X_f, so the beam enters from the inferior side.
  check_vec(source_dir("HFS", 90, 0, 90), {0, 0, -1});
  check_vec(source_dir("HFS", 90, 0, 270), {0, 0, 1});
  check_vec(source_dir("HFS", 90, 0, 180), {-1, 0, 0});
}

TEST_CASE("collimator 90 maps BLD +x onto the former +y", "[geometry][iec]") {
  for (const char* pos : {"HFS", "FFS", "HFP", "FFP"}) {
    for (double gantry : {0.0, 37.0, 90.0, 211.0}) {
      BeamTransform c0(pos, kIso, gantry, 0, 15);
      BeamTransform c90(pos, kIso, gantry, 90, 15);
      check_vec(c90.bld_to_patient({10, 0, 0}), c0.bld_to_patient({0, 10, 0}));
      check_vec(c90.bld_to_patient({0, 10, 0}), c0.bld_to_patient({-10, 0, 0}));
      check_vec(c90.source_lps(), c0.source_lps(), 1e-6);  // rotation about the beam axis
    }
  }
}

TEST_CASE("patient -> BLD -> patient round trips", "[geometry][iec]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> angle(0, 360), coord(-150, 150);
  for (const char* pos : {"HFS", "FFS", "HFP", "FFP"}) {
    for (int n = 0; n < 50; ++n) {
      BeamTransform t(pos, kIso, angle(rng), angle(rng), angle(rng), 1000);
      Vec3 p{coord(rng), coord(rng), coord(rng)};
      check_vec(t.bld_to_patient(t.patient_to_bld(p)), p, 1e-9);
      Vec3 b = t.patient_to_bld(p);  // rotations keep distances from the isocentre
      double dp = std::hypot(p[0] - kIso[0], p[1] - kIso[1], p[2] - kIso[2]);
      CHECK(std::hypot(b[0], b[1], b[2]) == Approx(dp));
    }
  }
}

TEST_CASE("projection to the isocentre plane magnifies by SAD/(SAD - z)", "[geometry][iec]") {
  BeamTransform t("HFS", kIso, 0, 0, 0, 1000);
  // At gantry 0 for HFS, BLD z is anterior (-y LPS): a point 200 mm toward the source.
  Vec3 p = t.bld_to_patient({20, -10, 200});
  double depth = 0;
  auto uv = t.project_to_isocenter_plane(p, &depth);
  CHECK(depth == Approx(800));
  CHECK(uv[0] == Approx(20 * 1000.0 / 800));
  CHECK(uv[1] == Approx(-10 * 1000.0 / 800));
  // Points in the isocentre plane project onto themselves; beyond it they shrink.
  auto at_iso = t.project_to_isocenter_plane(t.bld_to_patient({33, 44, 0}));
  CHECK(at_iso[0] == Approx(33));
  CHECK(at_iso[1] == Approx(44));
  auto far = t.project_to_isocenter_plane(t.bld_to_patient({30, 0, -200}));
  CHECK(far[0] == Approx(30 * 1000.0 / 1200));
  // A point on the ray from the source through a plane point projects onto that point.
  BeamTransform g("FFP", kIso, 123, 17, 350, 1000);
  Vec3 s = g.source_lps(), q = g.bld_to_patient({40, -25, 0});
  Vec3 mid{s[0] + 0.7 * (q[0] - s[0]), s[1] + 0.7 * (q[1] - s[1]), s[2] + 0.7 * (q[2] - s[2])};
  auto m = g.project_to_isocenter_plane(mid);
  CHECK(m[0] == Approx(40));
  CHECK(m[1] == Approx(-25));
}
