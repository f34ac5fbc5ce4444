#include "vmatplan/geometry/iec61217.h"

#include <cmath>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

constexpr double kPi = 3.14159265358979323846;

Mat3 multiply(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k)
      for (int col = 0; col < 3; ++col) c[r * 3 + col] += a[r * 3 + k] * b[k * 3 + col];
  return c;
}

Mat3 transpose(const Mat3& a) {
  return {a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]};
}

Vec3 mat_times_vec(const Mat3& m, const Vec3& v) {
  return {m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
          m[6] * v[0] + m[7] * v[1] + m[8] * v[2]};
}

// Right-handed rotations (counter-clockwise seen from the positive end of the axis), as
// IEC 61217 defines positive rotation. The columns are the rotated system's axes
// expressed in the parent system, so v_parent = R * v_child.
Mat3 rotation_y(double deg) {
  double c = std::cos(deg * kPi / 180.0), s = std::sin(deg * kPi / 180.0);
  return {c, 0, s, 0, 1, 0, -s, 0, c};
}
Mat3 rotation_z(double deg) {
  double c = std::cos(deg * kPi / 180.0), s = std::sin(deg * kPi / 180.0);
  return {c, -s, 0, s, c, 0, 0, 0, 1};
}

}  // namespace

// IEC 61217 patient system: X_p toward the patient's left, Y_p toward the head, Z_p toward
// anterior. It coincides with the patient support (table top) system for a head-first
// supine patient; DICOM PS3.3 C.7.3.1.1.2 (Patient Position) defines the other orientations
// relative to the table, and C.8.8.25.6 relates LPS and the IEC systems. Rows of the
// matrix give (x_s, y_s, z_s) from LPS (x = L, y = P, z = S):
//   HFS: x_s = x,  y_s = z,  z_s = -y   (head toward the gantry, anterior up)
//   FFS: x_s = -x, y_s = -z, z_s = -y   (feet toward the gantry: L and S flip)
//   HFP: x_s = -x, y_s = z,  z_s = y    (posterior up: L and A flip)
//   FFP: x_s = x,  y_s = -z, z_s = y    (both flips: L keeps its sign)
// Each is a proper rotation (determinant +1), as a rigid turn of the patient must be.
Mat3 lps_to_iec_support(const std::string& patient_position) {
  if (patient_position == "HFS") return {1, 0, 0, 0, 0, 1, 0, -1, 0};
  if (patient_position == "FFS") return {-1, 0, 0, 0, 0, -1, 0, -1, 0};
  if (patient_position == "HFP") return {-1, 0, 0, 0, 0, 1, 0, 1, 0};
  if (patient_position == "FFP") return {1, 0, 0, 0, 0, -1, 0, 1, 0};
  throw UsageError("patient position '" + patient_position +
                   "' is not supported (HFS, FFS, HFP or FFP)");
}

BeamTransform::BeamTransform(const std::string& patient_position, const Vec3& isocenter_mm,
                             double gantry_deg, double collimator_deg, double couch_deg,
                             double sad_mm)
    : isocenter_mm_(isocenter_mm), sad_mm_(sad_mm) {
  if (!(sad_mm > 0)) throw UsageError("SAD must be positive");
  // Chains (IEC 61217): fixed <- patient support by the couch angle about Z_f; fixed <-
  // gantry by the gantry angle about Y_f; gantry <- BLD by the collimator angle about Z_g.
  // v_f = Rz(couch) M v_lps = Ry(gantry) Rz(coll) v_bld.
  Mat3 lps_to_fixed = multiply(rotation_z(couch_deg), lps_to_iec_support(patient_position));
  Mat3 bld_to_fixed = multiply(rotation_y(gantry_deg), rotation_z(collimator_deg));
  bld_to_lps_ = multiply(transpose(lps_to_fixed), bld_to_fixed);
}

Vec3 BeamTransform::patient_to_bld(const Vec3& p) const {
  Vec3 d{p[0] - isocenter_mm_[0], p[1] - isocenter_mm_[1], p[2] - isocenter_mm_[2]};
  return mat_times_vec(transpose(bld_to_lps_), d);
}

Vec3 BeamTransform::bld_to_patient(const Vec3& b) const {
  Vec3 d = mat_times_vec(bld_to_lps_, b);
  return {d[0] + isocenter_mm_[0], d[1] + isocenter_mm_[1], d[2] + isocenter_mm_[2]};
}

Vec3 BeamTransform::beam_direction_lps() const {
  // The source sits on +Z_bld, so the beam travels along -Z_bld.
  return {-bld_to_lps_[2], -bld_to_lps_[5], -bld_to_lps_[8]};
}

std::array<double, 2> BeamTransform::project_to_isocenter_plane(const Vec3& lps_mm,
                                                               double* depth_mm) const {
  Vec3 b = patient_to_bld(lps_mm);
  double distance = sad_mm_ - b[2];  // from the source along the central axis
  if (depth_mm) *depth_mm = distance;
  if (!(distance > 1e-6))
    throw ProcessingError("point at or behind the radiation source cannot be projected");
  double m = sad_mm_ / distance;  // divergence: magnification to the isocentre plane
  return {b[0] * m, b[1] * m};
}

}  // namespace vmatplan
