#pragma once
// Plan geometry: arcs and static beams as lists of control points, IEC 61217 angles.
#include <string>
#include <vector>

#include "vmatplan/core/image_grid.h"

namespace vmatplan {

enum class RotationDirection { kNone, kClockwise, kCounterClockwise };  // DICOM NONE/CW/CC

// One arc (or a static beam when start == stop and direction kNone).
struct ArcSpec {
  double gantry_start_deg = 181.0;
  double gantry_stop_deg = 179.0;
  RotationDirection direction = RotationDirection::kClockwise;
  double cp_spacing_deg = 4.0;       // largest gantry step between control points
  double collimator_deg = 30.0;
  double couch_deg = 0.0;
};

struct ControlPointGeometry {
  double gantry_deg = 0.0;
  double collimator_deg = 0.0;
  double couch_deg = 0.0;
};

struct Beam {
  std::string name;
  RotationDirection direction = RotationDirection::kNone;
  std::vector<ControlPointGeometry> control_points;
  // Jaw positions at the isocentre plane (BLD coordinates), fitted to the target.
  double x1_mm = -100, x2_mm = 100, y1_mm = -100, y2_mm = 100;
};

struct PlanGeometry {
  Vec3 isocenter_mm{0, 0, 0};        // LPS
  std::string patient_position = "HFS";
  std::vector<Beam> beams;
  int control_point_count() const;
};

// Control points of an arc: equal gantry steps no larger than cp_spacing_deg from start to
// stop in the arc's direction (a full 360 deg arc when start == stop and direction is not
// kNone). Angles are normalised to [0, 360).
std::vector<ControlPointGeometry> arc_control_points(const ArcSpec& arc);

// The conventional prostate default: two full coplanar arcs, CW 181->179 then CCW
// 179->181, collimator 30 and 330 deg (avoids leaf gaps tracking the same line).
std::vector<ArcSpec> default_two_arcs(double cp_spacing_deg = 4.0);

// "181:179:cw:4:30" style specs (start:stop:cw|ccw[:spacing[:collimator[:couch]]]).
ArcSpec parse_arc_spec(const std::string& text);

}  // namespace vmatplan
