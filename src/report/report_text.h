#pragma once
// Text helpers shared by the report writers (HTML pages, SVG pictures): printf-style numbers
// and the CSS class of a goal's status.
#include <cstdio>
#include <string>

#include "vmatplan/evaluation/clinical_goals.h"

namespace vmatplan::report_text {

// One number with a printf format, e.g. fmt(59.2849) == "59.28".
inline std::string fmt(double v, const char* format = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// SVG coordinates and sizes: one decimal unless asked otherwise.
inline std::string num(double v, const char* format = "%.1f") { return fmt(v, format); }

// The row class the report's style sheet colours (ideal / acceptable / fail / na).
inline const char* status_class(GoalStatus s) {
  switch (s) {
    case GoalStatus::kIdeal: return "ideal";
    case GoalStatus::kAcceptable: return "acceptable";
    case GoalStatus::kFail: return "fail";
    default: return "na";
  }
}

}  // namespace vmatplan::report_text
