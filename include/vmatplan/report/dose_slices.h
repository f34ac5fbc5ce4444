#pragma once
// Dose pictures as a planning system shows them: axial, sagittal and coronal slices of the
// CT (grey, soft-tissue window) with the dose as a colour wash, isodose lines at fixed
// percentages of the prescription, structure outlines in their colours and a colour bar in
// Gy. Each picture is a standalone SVG: the CT + wash raster as an embedded PNG, the lines
// and labels as vectors. Slices go through the target centre and through the dose maximum.
//
//   auto slices = render_dose_slices(patient, dose, evaluation);
//   for (auto& s : slices) write(dir + "/" + s.file_name, s.svg);
//
// Display conventions (radiological): axial seen from the feet (patient right on the
// left, anterior up); coronal seen from the front (patient right on the left, superior
// up); sagittal seen from the patient's left (anterior on the left, superior up).
// Slices are sampled in LPS millimetres, so any CT orientation displays the same way.
#include <string>
#include <vector>

#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

struct DoseSliceOptions {
  std::vector<double> isodose_pct{95, 80, 50, 30};  // of the prescription dose
  double wash_min_pct = 10.0;   // the colour wash starts at this % of the prescription
  double wash_alpha = 0.5;      // opacity of the wash at its top
  double window_center_hu = 40, window_width_hu = 400;
  int max_pixels = 400;         // longest side of a slice raster (samples)
  double display_px = 360;      // longest side of a slice as displayed
};

struct DoseSlice {
  std::string view;       // "axial", "sagittal", "coronal"
  std::string through;    // "target" or "max"
  Vec3 point_mm{};        // the point the slice goes through (LPS)
  std::string title;
  std::string file_name;  // dose_<view>_<through>.svg
  std::string svg;
};

// Six slices (three views x target centre and dose maximum). The target is the first
// prescription level's structure of the evaluation (else the CT centre); structure colours
// and the prescription come from the evaluation.
std::vector<DoseSlice> render_dose_slices(const Patient& patient, const DoseImage& dose,
                                          const PlanEvaluation& evaluation,
                                          const DoseSliceOptions& options = {});

// Line segments of the level set f = level on a W x H grid of pixel-centre samples
// (marching squares), as an SVG path "M x y L x y ..." in pixel units (pixel centres at
// i + 0.5) scaled by `scale`. Exposed for tests.
std::string contour_path(const std::vector<float>& f, int width, int height, double level,
                         double scale = 1.0);

// The wash colour map (blue - cyan - green - yellow - red) at t in [0, 1].
std::array<uint8_t, 3> dose_colormap(double t);

}  // namespace vmatplan
