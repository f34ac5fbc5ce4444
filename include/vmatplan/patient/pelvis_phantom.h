#pragma once
// Synthetic male pelvis phantoms: the training and test ground of vmatplan.
//
//   PelvisPhantomOptions opt;  opt.seed = 7;
//   PhantomTruth truth;
//   Patient p = make_pelvis_phantom(opt, &truth);
//
// Anatomy is defined by implicit shapes in patient coordinates (LPS, mm, origin near the
// prostate centre) and sampled on a grid of any orientation, so head-first and feet-first
// (supine or prone) images of one seed hold the same anatomy.
#include <cstdint>
#include <map>
#include <string>

#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct PelvisPhantomOptions {
  uint64_t seed = 1;
  Vec3 spacing_mm{1.0, 1.0, 2.5};       // close to a clinical pelvis CT
  Vec3 field_of_view_mm{420.0, 320.0, 200.0};  // L-R, A-P, S-I extent of the grid
  double ptv_margin_mm = 6.0;           // CTV -> PTV isotropic growth
  std::string patient_position = "HFS"; // HFS, FFS, HFP or FFP: the image orientation
  double noise_hu = 0.0;                // Gaussian image noise (seeded); 0 = none
};

// What the generator knows exactly, for tests: analytic volumes of the shapes that have
// one (ellipsoids), and the random parameters drawn.
struct PhantomTruth {
  std::map<std::string, double> analytic_volume_cc;
  std::map<std::string, double> parameters;  // e.g. "bladder_volume_cc", "rectal_gas"
};

Patient make_pelvis_phantom(const PelvisPhantomOptions& options,
                            PhantomTruth* truth = nullptr);

}  // namespace vmatplan
