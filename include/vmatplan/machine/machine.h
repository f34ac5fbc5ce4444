#pragma once
// Machine: a linac and its beam-limiting devices, read from configs/machines/*.json.
// One source of truth for every limit: nothing here is hard-coded in code.
//
//   Machine m = Machine::load(config_path("machines/generic_6mv_mlc120.json"));
//   m.mlc.leaf_boundaries_mm      // pairs + 1 values along IEC BLD Y, at the isocentre
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmatplan {

// Multi-leaf collimator whose leaves travel along IEC beam-limiting-device X (MLCX).
struct MlcModel {
  std::vector<double> leaf_boundaries_mm;  // pairs + 1 values, increasing, at the isocentre
  double leaf_min_pos_mm = -200.0;         // travel range of any leaf tip (both banks)
  double leaf_max_pos_mm = 200.0;
  double max_leaf_speed_mm_per_s = 25.0;
  double min_dynamic_leaf_gap_mm = 0.5;    // between opposing leaves of a moving pair
  double max_leaf_span_mm = 150.0;         // tip-to-tip spread within one bank
  bool interdigitation = true;
  double transmission = 0.015;             // fraction of open-field fluence through leaves
  int pair_count() const { return static_cast<int>(leaf_boundaries_mm.size()) - 1; }
  double leaf_width_mm(int pair) const {
    return leaf_boundaries_mm[pair + 1] - leaf_boundaries_mm[pair];
  }
};

struct JawModel {
  bool present = true;       // an 80-leaf MLC without X jaws has present=false for X
  double min_pos_mm = -200;  // for the negative jaw (X1/Y1), most open position
  double max_pos_mm = 200;   // for the positive jaw (X2/Y2), most open position
  double max_overtravel_mm = 20;  // how far a jaw may cross the central axis
  double transmission = 0.001;
};

struct Machine {
  std::string name;               // the config's name (its file stem by convention)
  // TreatmentMachineName (300A,00B2) written to RT Plans: DICOM SH, at most 16 characters
  // ("dicom_machine_name" in the config; the name itself when that is short enough).
  std::string dicom_name;
  std::string config_path;        // where it was read from
  std::string radiation_type = "PHOTON";
  double nominal_energy_mv = 6.0;
  double sad_mm = 1000.0;
  double max_gantry_speed_deg_per_s = 6.0;
  double max_dose_rate_mu_per_min = 600.0;
  double min_dose_rate_mu_per_min = 20.0;
  double min_mu_per_degree = 0.1;      // delivery limits per control-point interval
  double max_mu_per_degree = 20.0;
  double max_cp_spacing_deg = 4.0;     // largest allowed gantry step between control points
  MlcModel mlc;
  JawModel x_jaws;
  JawModel y_jaws;
  nlohmann::json beam_data;            // the dose engine's commissioning parameters

  // Throws InputError naming the file and the bad field.
  static Machine load(const std::string& path);
  // A path to a .json file, or a name looked up in machine_search_dirs(): first the file
  // NAME.json, then a config whose name or DICOM machine name is NAME.
  static Machine load_named(const std::string& name_or_path);
  // Whether a plan's TreatmentMachineName names this machine (its name or DICOM name).
  bool answers_to(const std::string& treatment_machine_name) const {
    return treatment_machine_name == name || treatment_machine_name == dicom_name;
  }
  static Machine from_json(const nlohmann::json& j, const std::string& source);
};

// Folders searched for machine configs: each entry of $VMATPLAN_MACHINE_PATH (':'-separated),
// then configs/machines/.
std::vector<std::string> machine_search_dirs();

}  // namespace vmatplan
