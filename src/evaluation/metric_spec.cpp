#include "vmatplan/evaluation/metric_spec.h"

#include <cctype>
#include <cstdlib>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

std::string lower_no_space(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parses a non-negative number at the start of s; returns the characters consumed (0 = none).
size_t parse_number(const std::string& s, double& value) {
  const char* begin = s.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin || value < 0.0) return 0;
  return static_cast<size_t>(end - begin);
}

[[noreturn]] void bad(const std::string& text) {
  throw UsageError("unknown metric '" + text +
                   "' (expected Dx%, Dxcc, VxGy, Dmean, Dmax, Dmin, HI, CI or GI)");
}

}  // namespace

std::string MetricSpec::value_unit() const {
  switch (kind) {
    case MetricKind::kVolumeAtDosePct: return "%";
    case MetricKind::kVolumeAtDoseCc: return "cc";
    case MetricKind::kHomogeneityIndex:
    case MetricKind::kConformityIndex:
    case MetricKind::kGradientIndex: return "";
    default: return "Gy";
  }
}

MetricSpec parse_metric(const std::string& text, const std::string& volume_unit) {
  if (volume_unit != "%" && volume_unit != "cc")
    throw UsageError("metric '" + text + "': volume unit must be '%' or 'cc', not '" +
                     volume_unit + "'");
  MetricSpec m;
  m.text = text;
  const std::string s = lower_no_space(text);
  if (s == "dmean" || s == "mean") { m.kind = MetricKind::kMeanDose; return m; }
  if (s == "dmax" || s == "max") { m.kind = MetricKind::kMaxDose; return m; }
  if (s == "dmin" || s == "min") { m.kind = MetricKind::kMinDose; return m; }
  if (s == "hi") { m.kind = MetricKind::kHomogeneityIndex; return m; }
  if (s == "ci") { m.kind = MetricKind::kConformityIndex; return m; }
  if (s == "gi") { m.kind = MetricKind::kGradientIndex; return m; }
  if (s.size() < 3 || (s[0] != 'd' && s[0] != 'v')) bad(text);
  const std::string rest = s.substr(1);
  double x = 0.0;
  const size_t n = parse_number(rest, x);
  if (n == 0) bad(text);
  const std::string suffix = rest.substr(n);
  m.parameter = x;
  if (s[0] == 'd') {
    if (suffix == "%") {
      if (x > 100.0) bad(text);
      m.kind = MetricKind::kDoseAtVolumePct;
    } else if (suffix == "cc") {
      m.kind = MetricKind::kDoseAtVolumeCc;
    } else {
      bad(text);
    }
  } else {
    if (suffix != "gy") bad(text);
    m.kind = volume_unit == "cc" ? MetricKind::kVolumeAtDoseCc : MetricKind::kVolumeAtDosePct;
  }
  return m;
}

}  // namespace vmatplan
