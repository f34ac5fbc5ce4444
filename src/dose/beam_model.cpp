#include "vmatplan/dose/beam_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {
namespace {

double number(const nlohmann::json& j, const char* key, const std::string& source,
              double fallback, bool required) {
  if (!j.contains(key)) {
    if (required) throw InputError(source, std::string("beam data: missing '") + key + "'");
    return fallback;
  }
  if (!j.at(key).is_number())
    throw InputError(source, std::string("beam data: '") + key + "' must be a number");
  return j.at(key).get<double>();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open beam data file");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace

BeamModel BeamModel::from_json(const nlohmann::json& j, const std::string& source,
                               double sad_mm) {
  if (!j.is_object()) throw InputError(source, "beam data must be a JSON object");
  BeamModel m;
  m.source = source;
  m.sad_mm = sad_mm;
  m.buildup_per_mm = number(j, "buildup_per_mm", source, 0, true);
  m.surface_fraction = number(j, "surface_fraction", source, 0, true);
  m.lateral_cutoff_mm = number(j, "lateral_cutoff_mm", source, m.lateral_cutoff_mm, false);
  m.reference_field_mm = number(j, "reference_field_mm", source, m.reference_field_mm, false);
  m.reference_ssd_mm = number(j, "reference_ssd_mm", source, m.reference_ssd_mm, false);
  m.reference_gy_per_mu = number(j, "reference_gy_per_mu", source, m.reference_gy_per_mu, false);
  if (!j.contains("components") || !j.at("components").is_array() || j.at("components").empty())
    throw InputError(source, "beam data: 'components' must be a non-empty array");
  for (const auto& c : j.at("components")) {
    KernelComponent k;
    k.sigma_mm = number(c, "sigma_mm", source, 0, true);
    k.weight = number(c, "weight", source, 0, true);
    k.attenuation_per_mm = number(c, "attenuation_per_mm", source, 0, true);
    k.depth_power = static_cast<int>(number(c, "depth_power", source, 0, false));
    if (!(k.sigma_mm > 0) || k.weight < 0 || k.depth_power < 0 || k.depth_power > 2)
      throw InputError(source, "beam data: a component needs sigma_mm > 0, weight >= 0, "
                               "depth_power 0..2");
    m.components.push_back(k);
  }
  if (m.components.size() > 4)
    throw InputError(source, "beam data: at most 4 kernel components");
  if (!(m.buildup_per_mm > 0) || m.surface_fraction < 0 || m.surface_fraction > 1 ||
      !(m.lateral_cutoff_mm >= 0) || !(m.reference_field_mm > 0) ||
      !(m.reference_ssd_mm > 0) || !(m.reference_gy_per_mu > 0))
    throw InputError(source, "beam data: a parameter is out of range");
  m.calibrate();
  return m;
}

BeamModel BeamModel::for_machine(const Machine& machine) {
  const nlohmann::json& bd = machine.beam_data;
  const std::string origin = machine.config_path.empty() ? machine.name : machine.config_path;
  if (bd.is_object() && bd.contains("components")) return from_json(bd, origin, machine.sad_mm);
  std::string file = "beam_6mv_generic.json";
  if (bd.is_object() && bd.contains("file")) {
    if (!bd.at("file").is_string()) throw InputError(origin, "beam_data.file must be a string");
    file = bd.at("file").get<std::string>();
  }
  std::string path = std::filesystem::exists(file) ? file : config_path("beams/" + file);
  return from_json(read_json(path), path, machine.sad_mm);
}

double BeamModel::component_weight(int k, double depth_mm) const {
  const KernelComponent& c = components[k];
  double d = std::max(0.0, depth_mm);
  double buildup = 1.0 - (1.0 - surface_fraction) * std::exp(-buildup_per_mm * d);
  const double power = c.depth_power == 0 ? 1.0 : c.depth_power == 1 ? d : d * d;
  return c.weight * buildup * power * std::exp(-c.attenuation_per_mm * d);
}

double BeamModel::central_axis_dose(double depth_mm, double field_mm, double ssd_mm) const {
  // Iso at the surface: the field side at the isocentre plane is field_mm * SAD / SSD.
  double side_iso = field_mm * sad_mm / ssd_mm;
  double z = ssd_mm + depth_mm;
  double sum = 0;
  for (size_t k = 0; k < components.size(); ++k) {
    double e = std::erf(side_iso / (2.0 * std::sqrt(2.0) * components[k].sigma_mm));
    sum += component_weight(static_cast<int>(k), depth_mm) * e * e;
  }
  return calibration * (sad_mm / z) * (sad_mm / z) * sum;
}

void BeamModel::calibrate() {
  calibration = 1.0;
  // Golden-section search for the maximum of the (unimodal) depth dose on [0, 60] mm.
  double lo = 0.0, hi = 60.0;
  const double g = 0.5 * (std::sqrt(5.0) - 1.0);
  for (int it = 0; it < 80; ++it) {
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    if (central_axis_dose(a, reference_field_mm, reference_ssd_mm) <
        central_axis_dose(b, reference_field_mm, reference_ssd_mm))
      lo = a;
    else
      hi = b;
  }
  reference_dmax_mm = 0.5 * (lo + hi);
  double peak = central_axis_dose(reference_dmax_mm, reference_field_mm, reference_ssd_mm);
  if (!(peak > 0)) throw InputError(source, "beam data: the reference field gives no dose");
  calibration = reference_gy_per_mu / peak;
}

}  // namespace vmatplan
