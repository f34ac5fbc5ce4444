#pragma once
// The DVH plot as a standalone SVG document, written by hand (no plotting library):
// every structure's cumulative DVH in its own colour, the prescription level(s) as
// dashed vertical lines, a legend, and axes with ticks: dose (Gy) vs volume (%).
//
//   std::string svg = render_dvh_svg(evaluation);
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vmatplan/evaluation/plan_evaluation.h"

namespace vmatplan {

struct DvhPlotOptions {
  int width_px = 960;
  int height_px = 560;
  std::string title;  // default: "DVH – <protocol>"
};

std::string render_dvh_svg(const PlanEvaluation& evaluation, const DvhPlotOptions& options = {});

// Several doses of one patient overlaid: the same structure colours, one line style per
// dose (solid, dashed, dotted, dash-dot), a legend of the doses' labels. The first
// evaluation gives the prescription and the title.
std::string render_dvh_comparison_svg(const std::vector<const PlanEvaluation*>& evaluations,
                                      const std::vector<std::string>& labels,
                                      const DvhPlotOptions& options = {});

// The same plot from curves already sampled (e.g. read back from dvh.json): one series per
// dose (its label and line style), each a list of structures with their points. The
// structure legend and colours come from the first series; `prescription` draws the dashed
// levels. The two functions above call this one.
struct DvhPlotCurve {
  std::string name;
  std::array<uint8_t, 3> color_rgb{255, 0, 0};
  std::vector<Dvh::Point> points;  // ascending dose, volume in %
};
struct DvhPlotSeries {
  std::string label;  // "" when there is one series (no dose legend then)
  std::vector<DvhPlotCurve> curves;
};
std::string render_dvh_curves_svg(const std::vector<DvhPlotSeries>& series,
                                  const std::vector<TargetLevel>& prescription,
                                  const DvhPlotOptions& options);

// "Nice" axis ticks (1, 2, 2.5 or 5 times a power of ten) covering [0, max]; the last tick
// is >= max. Exposed for tests.
std::vector<double> nice_ticks(double max, int target_count = 8);

// Escapes &, <, >, " and ' for XML/HTML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace vmatplan
