// Patient-boundary checks (issue 14): unusable CTs are refused, anatomy that would make a
// plan silently wrong is refused (target outside the body) or warned about.
#include <catch2/catch.hpp>

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/patient/patient_checks.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

namespace {

Patient small_phantom() {
  PelvisPhantomOptions o;
  o.seed = 3;
  o.spacing_mm = {6, 6, 8};
  return make_pelvis_phantom(o, nullptr);
}

Structure& find(Patient& p, const std::string& prefix) {
  for (Structure& s : p.structures)
    if (s.name.rfind(prefix, 0) == 0) return s;
  FAIL("no structure " << prefix);
  throw;
}

bool any_contains(const std::vector<std::string>& v, const std::string& text) {
  for (const auto& s : v)
    if (s.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("grid_problem names bad spacing, origin and direction", "[patient][checks]") {
  ImageGrid g;
  g.size = {4, 4, 4};
  CHECK(grid_problem(g).empty());
  ImageGrid bad = g;
  bad.spacing_mm[0] = NAN;
  CHECK_THAT(grid_problem(bad), Catch::Contains("spacing"));
  bad = g;
  bad.spacing_mm[2] = 0;
  CHECK_THAT(grid_problem(bad), Catch::Contains("spacing"));
  bad = g;
  bad.origin_mm[1] = INFINITY;
  CHECK_THAT(grid_problem(bad), Catch::Contains("origin"));
  bad = g;
  bad.direction[0] = 2;
  CHECK_THAT(grid_problem(bad), Catch::Contains("orthonormal"));
  bad = g;
  bad.size[1] = 0;
  CHECK_THAT(grid_problem(bad), Catch::Contains("no voxels"));
}

TEST_CASE("validate_ct refuses NaN voxels and values that are not HU", "[patient][checks]") {
  Patient p = small_phantom();
  CHECK_NOTHROW(validate_patient(p, "src"));
  CtImage ct = p.ct_hu;
  ct.voxels[10] = NAN;
  CHECK_THROWS_WITH(validate_ct(ct, "ct.nii.gz"), Catch::StartsWith("ct.nii.gz: ") && Catch::Contains("not finite"));
  ct = p.ct_hu;
  ct.voxels[10] = 5e6f;
  CHECK_THROWS_WITH(validate_ct(ct, "ct.nii.gz"), Catch::Contains("-10000..100000 HU"));
  ct = p.ct_hu;
  ct.voxels.pop_back();
  CHECK_THROWS_AS(validate_ct(ct, "ct.nii.gz"), InputError);
}

TEST_CASE("planning checks: target outside body refused, edge and metal warned", "[patient][checks]") {
  Patient p = small_phantom();
  Structure& ptv = find(p, "PTV");
  Structure& body = find(p, "BODY");
  CHECK(planning_checks(p, ptv, &body, 3000).empty());

  SECTION("target mostly outside the body") {
    Patient q = p;
    Structure& b = find(q, "BODY");
    std::fill(b.mask.voxels.begin(), b.mask.voxels.end(), 0);
    b.mask.at(0, 0, 0) = 1;
    CHECK_THROWS_WITH(planning_checks(q, find(q, "PTV"), &b, 3000),
                      Catch::Contains("outside body") && Catch::Contains("PTV"));
  }
  SECTION("target touching the last slice") {
    Patient q = p;
    Structure& t = find(q, "PTV");
    const auto& g = t.mask.grid;
    t.mask.at(g.size[0] / 2, g.size[1] / 2, g.size[2] - 1) = 1;
    find(q, "BODY").mask.at(g.size[0] / 2, g.size[1] / 2, g.size[2] - 1) = 1;
    CHECK(any_contains(planning_checks(q, t, &find(q, "BODY"), 3000), "edge of the scan"));
  }
  SECTION("metal in the arcs' path") {
    Patient q = p;
    const Structure& t = find(q, "PTV");
    int64_t v = 0;
    while (!t.mask.voxels[v]) ++v;
    q.ct_hu.voxels[v] = 8000;  // above the table
    const auto w = planning_checks(q, t, &find(q, "BODY"), 3000);
    CHECK(any_contains(w, "exceed 3000 HU"));
    CHECK(any_contains(w, "8000"));
  }
  SECTION("an empty target") {
    Patient q = p;
    Structure& t = find(q, "PTV");
    std::fill(t.mask.voxels.begin(), t.mask.voxels.end(), 0);
    CHECK_THROWS_WITH(planning_checks(q, t, &find(q, "BODY"), 3000), Catch::Contains("is empty"));
  }
}

// Issue 14: structures overlapping the couch or lying in the air around the patient are
// signs of shifted contours (or a couch placed through the patient); the planner is told.
TEST_CASE("planning checks warn about structures on the couch or in the air", "[patient][checks]") {
  Patient p = small_phantom();
  const ImageGrid& g = p.ct_hu.grid;
  Structure couch;
  couch.name = "CouchSurface";
  couch.type = "SUPPORT";  // RT ROI Interpreted Type of couch structures
  couch.mask = Mask(g, 0);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t i = 0; i < g.size[0]; ++i) couch.mask.at(i, g.size[1] - 1, k) = 1;
  p.structures.push_back(couch);
  CHECK(planning_checks(p, find(p, "PTV"), &find(p, "BODY"), 3000).empty());

  SECTION("an organ reaching into the couch") {
    Patient q = p;
    Structure& bladder = find(q, "Bladder");
    bladder.mask.at(g.size[0] / 2, g.size[1] - 1, g.size[2] / 2) = 1;
    const auto w = planning_checks(q, find(q, "PTV"), &find(q, "BODY"), 3000);
    CHECK(any_contains(w, "'Bladder' overlaps couch structure 'CouchSurface'"));
  }
  SECTION("an organ partly outside the body") {
    Patient q = p;
    Structure& rectum = find(q, "Rectum");
    for (int64_t k = 0; k < g.size[2]; ++k)
      for (int64_t i = 0; i < g.size[0]; ++i) rectum.mask.at(i, 0, k) = 1;
    const auto w = planning_checks(q, find(q, "PTV"), &find(q, "BODY"), 3000);
    CHECK(any_contains(w, "'Rectum'"));
    CHECK(any_contains(w, "outside body 'BODY'"));
  }
  SECTION("a structure named as a couch but typed otherwise") {
    Patient q = p;
    q.structures.back().type = "";
    q.structures.back().name = "Couch Interior";
    find(q, "Bladder").mask.at(g.size[0] / 2, g.size[1] - 1, g.size[2] / 2) = 1;
    CHECK(any_contains(planning_checks(q, find(q, "PTV"), &find(q, "BODY"), 3000), "couch structure 'Couch Interior'"));
  }
}
