#pragma once
// Internal to the phantom: the random anatomy of one synthetic male pelvis as implicit
// functions of a point in patient coordinates (LPS mm: x left, y posterior, z superior;
// prostate centre near the origin). Every field is negative inside and roughly a signed
// distance in mm near its surface, so contours interpolate well and shells (cortical bone,
// fat) can be cut by thickness.
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "vmatplan/core/image_grid.h"

namespace vmatplan::phantom {

// SplitMix64 (Steele et al. 2014): small, portable and the same on every platform, unlike
// the standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ^ 0x9e3779b97f4a7c15ULL) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform(double a, double b) { return a + (b - a) * double(next() >> 11) * 0x1.0p-53; }
  double gaussian();  // standard normal (Box-Muller)

 private:
  uint64_t s_;
};

// An ellipsoid with semi-axes along the rows of `axes` (unit vectors in LPS).
struct Ellipsoid {
  Vec3 centre_mm{0, 0, 0};
  Vec3 semi_mm{1, 1, 1};
  std::array<Vec3, 3> axes{Vec3{1, 0, 0}, Vec3{0, 1, 0}, Vec3{0, 0, 1}};
  double field(const Vec3& p) const;
  double extent_mm(int lps_axis) const;  // half-width of the bounding box along x, y or z
  double volume_cc() const;
};

struct Capsule {  // segment a-b grown by radius
  Vec3 a_mm, b_mm;
  double radius_mm;
  double field(const Vec3& p) const;
};

struct FemurSide {
  Vec3 head_centre_mm;
  double head_radius_mm;
  Vec3 neck_dir;          // unit vector from the head centre along the neck axis
  double head_cut_mm;     // the head ends at the plane (p - centre).neck_dir = head_cut
  Capsule neck, shaft;
  Vec3 trochanter_mm;
  double trochanter_radius_mm;
  Vec3 acetabulum_opening;  // the cup covers the half-space away from this direction
  Ellipsoid pubis, tuberosity;
  Capsule superior_ramus, inferior_ramus, ischium;
};

class PelvisAnatomy {
 public:
  explicit PelvisAnatomy(uint64_t seed);

  // Structure fields (< 0 inside).
  double body(const Vec3& p) const;
  double prostate(const Vec3& p) const { return prostate_.field(p); }
  double bladder(const Vec3& p) const { return bladder_.field(p); }
  double seminal_vesicles(const Vec3& p) const;  // minus prostate, bladder and rectum
  double rectum(const Vec3& p) const;            // minus prostate and bladder
  // side +1 = patient left (FemoralHead_L), -1 = right. Sphere cut at the neck plane.
  double femoral_head(const Vec3& p, int side) const;

  // Tissue fields for the CT only.
  double body_muscle(const Vec3& p) const;  // inside of the subcutaneous fat layer
  double fat_thickness_mm() const { return fat_mm_; }
  double bone(const Vec3& p) const;         // all pelvic bones and both femora
  double rectal_gas(const Vec3& p) const;   // +inf-like when this patient has none
  double mesorectal_fat(const Vec3& p) const;

  // The point the grid is centred on (mm) and the exactly known volumes (cc).
  Vec3 centre_mm() const { return centre_mm_; }
  std::map<std::string, double> analytic_volumes_cc() const;
  const std::map<std::string, double>& parameters() const { return params_; }

  double cortical_hu() const { return cortical_hu_; }
  double trabecular_hu() const { return trabecular_hu_; }
  double cortical_thickness_mm() const { return 3.0; }

 private:
  double rectum_centre_y(double z) const;
  double rectum_radius(double z) const;
  double rectum_tube(const Vec3& p) const;  // before carving
  double sacrum(const Vec3& p) const;
  double ilium(const Vec3& p, int side) const;
  double hip(const Vec3& p, int side) const;  // femur + acetabulum + ischium + pubis

  Vec3 centre_mm_{0, 0, 0};
  // Body: superellipse |x/A|^2.5 + |(y-yc)/B|^2.5 = 1, fat layer of thickness fat_mm.
  double body_a_mm_ = 185, body_b_mm_ = 120, body_yc_mm_ = 30, fat_mm_ = 20;
  Ellipsoid prostate_, bladder_, sv_[2], gas_;
  bool has_gas_ = false;
  // Rectum centreline x = 0, y = rectum_centre_y(z), for z in [z_lo, z_hi].
  double rect_y0_mm_ = 30, rect_curve_mm_ = 30, rect_r_mm_ = 15, rect_z_lo_ = -60,
         rect_z_hi_ = 75, apex_z_ = -20, mesorectal_mm_ = 8;
  FemurSide femur_[2];  // [0] left (+x), [1] right
  double cortical_hu_ = 900, trabecular_hu_ = 250;
  std::map<std::string, double> params_;
};

}  // namespace vmatplan::phantom
