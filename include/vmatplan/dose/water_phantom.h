#pragma once
// Beam-model check in water, the figures a physicist compares with measured beam data:
// depth of maximum dose, PDD at 5/10/20 cm, profile width and 20-80 % penumbra at 10 cm,
// output factors, and the absolute dose per MU at d_max.
//
//   WaterFigures w = measure_water(machine, {.field_x_mm = 100, .field_y_mm = 100});
//
// Set-up: gantry 0, collimator 0, a head-first-supine water box (0 HU) whose surface is at
// SSD; the open field is defined at the isocentre plane (SAD), fluence 1 MU per bixel.
// The box spans width_mm along the profile (BLD X) and depth_mm along the beam but only a
// few voxels across (BLD Y): the pencil-beam model takes lateral scatter from the fluence
// kernel, not from the phantom's extent, so a thin slab gives the same central-plane dose.
#include <map>
#include <vector>

#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct WaterSetup {
  double field_x_mm = 100.0;   // at the isocentre plane
  double field_y_mm = 100.0;
  double ssd_mm = 1000.0;
  double spacing_mm = 1.0;     // CT and dose grid
  double width_mm = 400.0;     // along BLD X (profile direction)
  double depth_mm = 400.0;     // along the beam
  double bixel_mm = 5.0;       // bixel width and row height (at most)
  std::vector<double> output_factor_fields_mm{30, 40, 50, 60, 80, 100, 150, 200, 250, 300};
  double output_factor_depth_mm = 100.0;
};

struct WaterFigures {
  double dmax_mm = 0;                  // parabolic refinement of the central-axis maximum
  double dose_per_mu_at_dmax_gy = 0;   // for the requested field and SSD
  double pdd5_percent = 0, pdd10_percent = 0, pdd20_percent = 0;
  double profile_width_50_mm = 0;      // distance between the 50 % points at 10 cm depth
  double profile_width_80_mm = 0;      // distance between the 80 % points at 10 cm depth
  double penumbra_20_80_mm = 0;        // mean of both sides at 10 cm depth
  std::map<double, double> output_factors;  // field side (mm) -> dose ratio to 100x100
  std::vector<std::pair<double, double>> pdd_percent;      // (depth mm, %)
  std::vector<std::pair<double, double>> profile_percent;  // (x mm at 10 cm depth, %)
};

// A water box patient with a BODY structure, surface at `surface_y_mm` (LPS y; the beam
// at gantry 0 travels along +y), x centred on 0 with an odd voxel count so x = 0 and z = 0
// are voxel centres.
Patient make_water_box(double width_mm, double depth_mm, double thickness_mm,
                       double spacing_mm, double surface_y_mm, float hu = 0.0f);

// Central-axis dose (Gy per MU) at voxel-centre depths for one open square/rectangular
// field: pairs (depth mm, dose). Used by measure_water and the tests.
std::vector<std::pair<double, double>> water_depth_dose(const Machine& machine,
                                                        const WaterSetup& setup,
                                                        double field_x_mm, double field_y_mm);

WaterFigures measure_water(const Machine& machine, const WaterSetup& setup);

}  // namespace vmatplan
