#pragma once
// Commissioning parameters of the photon pencil-beam model (the machine's "beam_data").
//
// Dose at a point with radiological depth d (mm), at distance z (mm) from the source
// along the central axis, whose divergent projection onto the isocentre plane is (x, y):
//
//   D = c_cal * (SAD / z)^2 * sum_k w_k(d) * (Phi (*) G_k)(x, y)           [Gy]
//   w_k(d) = a_k * B(d) * d^n_k * exp(-mu_k d),   B(d) = 1 - (1 - s0) exp(-beta d)
//
// Phi is the fluence (MU per bixel, open-field equivalent) on the isocentre plane, G_k a
// normalised 2-D Gaussian of width sigma_k (isocentre-plane mm). Component 0 (n = 0) is
// the primary (source size + electron range), the others (n = 1) phantom scatter growing
// from zero at the surface (the shape of the depth-integrated pencil kernels of Ahnesjo,
// Saxner, Trepp, Med Phys 19:263, 1992). c_cal makes D = 1 cGy per MU at d_max for a
// 10x10 cm^2 field at SSD 100 cm. See docs/dose_model.md.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmatplan {

struct Machine;

struct KernelComponent {
  double sigma_mm = 3.0;             // Gaussian width at the isocentre plane
  double weight = 1.0;               // a_k (per mm^n_k)
  double attenuation_per_mm = 0.005; // mu_k
  int depth_power = 0;               // n_k: 0 primary, 1 scatter (builds up with depth)
};

struct BeamModel {
  std::string source;                // where the parameters came from
  double sad_mm = 1000.0;
  double buildup_per_mm = 0.25;      // beta
  double surface_fraction = 0.2;     // s0: B(0)
  std::vector<KernelComponent> components;
  double lateral_cutoff_mm = 100.0;  // kernel support beyond the fluence grid edge
  double reference_field_mm = 100.0; // calibration: square field at the surface
  double reference_ssd_mm = 1000.0;
  double reference_gy_per_mu = 0.01; // at d_max
  // Derived by calibrate(): c_cal and the depth of maximum dose of the reference field.
  double calibration = 1.0;
  double reference_dmax_mm = 0.0;

  // Throws InputError naming `source` and the field. Calls calibrate().
  static BeamModel from_json(const nlohmann::json& j, const std::string& source,
                             double sad_mm);
  // machine.beam_data: the parameters inline, or {"file": "beam_6mv_generic.json"} naming
  // a file in configs/machines/ (or a path); with neither, the generic 6 MV file.
  static BeamModel for_machine(const Machine& machine);

  // w_k(d) without c_cal.
  double component_weight(int k, double depth_mm) const;
  // Analytic central-axis dose (Gy per MU, with c_cal) of an open square field of side
  // field_mm (defined at the surface, iso at the surface) in water at SSD ssd_mm: the
  // model's equation with the Gaussian integrals done in closed form (erf).
  double central_axis_dose(double depth_mm, double field_mm, double ssd_mm) const;
  // Sets calibration and reference_dmax_mm from the reference conditions.
  void calibrate();
};

}  // namespace vmatplan
