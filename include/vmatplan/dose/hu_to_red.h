#pragma once
// CT number (HU) -> electron density relative to water: a piecewise-linear table read
// from configs/hu_to_red.json (typical CIRS-062 calibration, Schneider et al. 1996 shape).
//
//   HuToRed t = HuToRed::load_default();
//   double red = t.red(40.0);   // ~1.04 (muscle)
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmatplan {

class HuToRed {
 public:
  // Throws InputError naming the file (or "hu_to_red" for JSON) and the bad field.
  static HuToRed from_json(const nlohmann::json& j, const std::string& source);
  static HuToRed load(const std::string& path);
  static HuToRed load_default();  // config_path("hu_to_red.json")

  // Linear interpolation, clamped to the first/last point outside the table.
  double red(double hu) const;
  const std::vector<double>& hu_points() const { return hu_; }
  const std::vector<double>& red_points() const { return red_; }

 private:
  std::vector<double> hu_, red_;
};

}  // namespace vmatplan
