#include "vmatplan/dose/hu_to_red.h"

#include <algorithm>
#include <fstream>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"

namespace vmatplan {

HuToRed HuToRed::from_json(const nlohmann::json& j, const std::string& source) {
  HuToRed t;
  try {
    t.hu_ = j.at("hu").get<std::vector<double>>();
    t.red_ = j.at("red").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("expected arrays 'hu' and 'red': ") + e.what());
  }
  if (t.hu_.size() < 2 || t.hu_.size() != t.red_.size())
    throw InputError(source, "'hu' and 'red' need the same length, at least 2");
  for (size_t i = 1; i < t.hu_.size(); ++i)
    if (!(t.hu_[i] > t.hu_[i - 1])) throw InputError(source, "'hu' must increase strictly");
  for (double r : t.red_)
    if (!(r >= 0)) throw InputError(source, "'red' values must be >= 0");
  return t;
}

HuToRed HuToRed::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open HU to electron density table");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, std::string("not valid JSON: ") + e.what());
  }
  return from_json(j, path);
}

HuToRed HuToRed::load_default() { return load(config_path("hu_to_red.json")); }

double HuToRed::red(double hu) const {
  if (hu <= hu_.front()) return red_.front();
  if (hu >= hu_.back()) return red_.back();
  size_t i = std::upper_bound(hu_.begin(), hu_.end(), hu) - hu_.begin();  // hu_[i-1] <= hu < hu_[i]
  double t = (hu - hu_[i - 1]) / (hu_[i] - hu_[i - 1]);
  return red_[i - 1] + t * (red_[i] - red_[i - 1]);
}

}  // namespace vmatplan
