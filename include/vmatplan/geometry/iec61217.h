#pragma once
// IEC 61217 coordinate systems, chained as fixed (f) <- patient support (s) <- patient (p),
// and fixed (f) <- gantry (g) <- beam limiting device (b). All rotations are positive
// counter-clockwise when viewed from the positive end of their axis (IEC 61217 ed. 2,
// 2011). Origins are at the isocentre; units are mm.
//
//   BeamTransform t(patient_position, isocenter_mm, gantry_deg, collimator_deg, couch_deg);
//   Vec3 b = t.patient_to_bld(p_lps);   // BLD coordinates of a patient point
//   Vec3 s = t.source_lps();            // radiation source in patient LPS
#include <array>
#include <string>

#include "vmatplan/core/image_grid.h"

namespace vmatplan {

using Mat3 = std::array<double, 9>;  // row-major

// Patient LPS (relative to the isocentre) -> IEC patient support coordinates, for HFS,
// FFS, HFP and FFP. Throws UsageError for other positions.
Mat3 lps_to_iec_support(const std::string& patient_position);

class BeamTransform {
 public:
  BeamTransform(const std::string& patient_position, const Vec3& isocenter_mm,
                double gantry_deg, double collimator_deg, double couch_deg,
                double sad_mm = 1000.0);

  Vec3 patient_to_bld(const Vec3& lps_mm) const;
  Vec3 bld_to_patient(const Vec3& bld_mm) const;
  Vec3 source_lps() const { return bld_to_patient({0, 0, sad_mm_}); }
  // Unit vector of the central axis (source -> isocentre) in LPS.
  Vec3 beam_direction_lps() const;
  // Divergent projection of a patient point onto the isocentre plane (BLD x, y at
  // distance SAD); depth_mm receives the distance along the central axis from the source.
  std::array<double, 2> project_to_isocenter_plane(const Vec3& lps_mm,
                                                   double* depth_mm = nullptr) const;
  double sad_mm() const { return sad_mm_; }
  const Mat3& bld_to_lps_rotation() const { return bld_to_lps_; }

 private:
  Vec3 isocenter_mm_;
  double sad_mm_;
  Mat3 bld_to_lps_;  // rotation: BLD axes expressed in LPS
};

}  // namespace vmatplan
