#include "vmatplan/geometry/arc.h"

#include <cmath>
#include <sstream>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

double normalize_deg(double a) {
  double r = std::fmod(a, 360.0);
  if (r < 0) r += 360.0;
  // Round-off such as 359.9999999999 or -1e-13 means 0 (the DICOM range is [0, 360)).
  if (r > 360.0 - 1e-9 || r < 1e-9) r = 0.0;
  return r;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double parse_number(const std::string& field, const std::string& what, const std::string& spec) {
  try {
    size_t used = 0;
    double v = std::stod(field, &used);
    if (used == field.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("arc spec '" + spec + "': " + what + " '" + field + "' is not a number");
}

}  // namespace

int PlanGeometry::control_point_count() const {
  int n = 0;
  for (const auto& b : beams) n += static_cast<int>(b.control_points.size());
  return n;
}

std::vector<ControlPointGeometry> arc_control_points(const ArcSpec& arc) {
  const double start = normalize_deg(arc.gantry_start_deg);
  const double stop = normalize_deg(arc.gantry_stop_deg);
  const double coll = normalize_deg(arc.collimator_deg);
  const double couch = normalize_deg(arc.couch_deg);
  if (arc.direction == RotationDirection::kNone) {
    if (std::abs(start - stop) > 1e-9)
      throw UsageError("a static beam (direction NONE) needs start == stop gantry angle, got " +
                       std::to_string(arc.gantry_start_deg) + " and " +
                       std::to_string(arc.gantry_stop_deg));
    return {{start, coll, couch}};
  }
  if (!(arc.cp_spacing_deg > 0) || !std::isfinite(arc.cp_spacing_deg))
    throw UsageError("arc control-point spacing must be positive, got " +
                     std::to_string(arc.cp_spacing_deg));
  // IEC 61217: gantry angle increases clockwise seen from the foot of the couch (DICOM
  // Gantry Rotation Direction CW); CC decreases it.
  const double sign = arc.direction == RotationDirection::kClockwise ? 1.0 : -1.0;
  double span = normalize_deg(sign * (stop - start));
  if (span == 0.0) span = 360.0;  // start == stop with a direction: a full rotation
  const int steps = std::max(1, static_cast<int>(std::ceil(span / arc.cp_spacing_deg - 1e-9)));
  const double step = span / steps;
  std::vector<ControlPointGeometry> cps;
  cps.reserve(steps + 1);
  for (int i = 0; i <= steps; ++i)
    cps.push_back({normalize_deg(start + sign * step * i), coll, couch});
  return cps;
}

std::vector<ArcSpec> default_two_arcs(double cp_spacing_deg) {
  ArcSpec cw;
  cw.gantry_start_deg = 181.0;
  cw.gantry_stop_deg = 179.0;
  cw.direction = RotationDirection::kClockwise;
  cw.cp_spacing_deg = cp_spacing_deg;
  cw.collimator_deg = 30.0;
  ArcSpec ccw = cw;
  ccw.gantry_start_deg = 179.0;
  ccw.gantry_stop_deg = 181.0;
  ccw.direction = RotationDirection::kCounterClockwise;
  ccw.collimator_deg = 330.0;
  return {cw, ccw};
}

ArcSpec parse_arc_spec(const std::string& text) {
  std::vector<std::string> fields;
  std::stringstream ss(text);
  std::string f;
  while (std::getline(ss, f, ':')) fields.push_back(f);
  if (!text.empty() && text.back() == ':') fields.push_back("");
  if (fields.size() < 3 || fields.size() > 6)
    throw UsageError("arc spec '" + text +
                     "': expected start:stop:cw|ccw|none[:spacing[:collimator[:couch]]]");
  ArcSpec a;
  a.gantry_start_deg = parse_number(fields[0], "start angle", text);
  a.gantry_stop_deg = parse_number(fields[1], "stop angle", text);
  std::string dir = lower(fields[2]);
  if (dir == "cw") {
    a.direction = RotationDirection::kClockwise;
  } else if (dir == "ccw" || dir == "cc") {  // "CC" is DICOM's spelling
    a.direction = RotationDirection::kCounterClockwise;
  } else if (dir == "none" || dir == "static") {
    a.direction = RotationDirection::kNone;
  } else {
    throw UsageError("arc spec '" + text + "': direction '" + fields[2] +
                     "' is not cw, ccw or none");
  }
  if (fields.size() > 3) a.cp_spacing_deg = parse_number(fields[3], "spacing", text);
  if (fields.size() > 4) a.collimator_deg = parse_number(fields[4], "collimator angle", text);
  if (fields.size() > 5) a.couch_deg = parse_number(fields[5], "couch angle", text);
  if (!(a.cp_spacing_deg > 0))
    throw UsageError("arc spec '" + text + "': spacing must be positive");
  if (a.direction == RotationDirection::kNone &&
      std::abs(normalize_deg(a.gantry_start_deg) - normalize_deg(a.gantry_stop_deg)) > 1e-9)
    throw UsageError("arc spec '" + text + "': a static beam needs start == stop");
  return a;
}

}  // namespace vmatplan
