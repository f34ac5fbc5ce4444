// The bad-input catalogue (issue 14): malformed and hostile inputs across every subcommand.
// Each case asserts: the expected exit code (1 input error, 2 usage error; never a crash),
// exactly one stderr line naming the file or flag, nothing new on disk, inputs unchanged.
// Run with `ctest -L hostile` (or `vmatplan_tests "[hostile]"`); every group prints its
// counts by outcome.
#include <dcmtk/dcmdata/dctk.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sequence/synthetic_plan.h"
#include "test_support.h"
#include "vmatplan/io/delivery_plan_io.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/rtplan_writer.h"

using namespace vmatplan;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Everything a case may read: built once per test process under one scratch folder.
struct Fixture {
  std::string root;   // all inputs and outputs of the catalogue live here
  std::string nifti;  // tiny phantom, image folder
  std::string dicom;  // tiny phantom, DICOM CT + RTSTRUCT
  std::string plan;   // fluence plan (plan.json + plan.safetensors)
  std::string plan2;  // sequenced plan (extra.delivery)
  std::string dp;     // delivery JSON (format vmatplan-delivery)
  std::string rp;     // RT Plan written from dp
  std::string dose;   // 1 Gy everywhere on the phantom's CT grid
  json delivery;      // dp's content, for mutations
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Makes the fixture's files under root: two tiny phantoms (image folder, DICOM), a fluence
// plan, its sequenced plan, the delivery JSON and RT Plan written from it, a 1 Gy dose.
void make_fixture_files(const std::string& root) {
  auto a = test::run_cli("phantom --seed 2 --spacing 8,8,10 --format nifti --out '" + root + "/pn'");
  auto b = test::run_cli("phantom --seed 2 --spacing 8,8,10 --out '" + root + "/pd'");
  if (a.exit_code != 0 || b.exit_code != 0) throw std::runtime_error("phantom failed: " + a.err + b.err);
  fs::create_directories(root + "/plans");
  const Machine m = Machine::load_named("generic_6mv_mlc120");
  save_plan(test::synthetic_fluence_plan(m, 1, test::FluenceShape::kBlob), root + "/plans/plan.json");
  auto s = test::run_cli("sequence --plan '" + root + "/plans/plan.json' --out '" + root + "/plans/plan2.json'");
  if (s.exit_code != 0) throw std::runtime_error("sequence failed: " + s.err);
  std::ofstream(root + "/plans/delivery.json") << json::parse(slurp(root + "/plans/plan2.json"))["extra"]["delivery"].dump();
  write_rtplan(load_delivery_plan(root + "/plans/delivery.json"), root + "/plans/RP.dcm");
  CtImage d = read_image_float(root + "/pn/ct.nii.gz");
  std::fill(d.voxels.begin(), d.voxels.end(), 1.0f);
  write_image(d, root + "/dose.nii.gz");
}

// The fixture of a ctest run is made once, by the test "hostile_fixture" (CTest fixture
// setup, tests/CMakeLists.txt), in $VMATPLAN_HOSTILE_FIXTURE; each catalogue process copies
// it into its own scratch folder, whose every file its cases then watch. Without that
// folder (the test binary run by hand) the process makes its own.
const char* shared_fixture_dir() { return std::getenv("VMATPLAN_HOSTILE_FIXTURE"); }
const char* const kFixtureComplete = "fixture_complete";

const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.root = test::scratch_dir("hostile");
    const char* shared = shared_fixture_dir();
    if (shared && fs::exists(fs::path(shared) / kFixtureComplete)) {
      fs::copy(shared, x.root, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
      fs::remove(fs::path(x.root) / kFixtureComplete);
    } else {
      make_fixture_files(x.root);
    }
    x.nifti = x.root + "/pn";
    x.dicom = x.root + "/pd";
    x.plan = x.root + "/plans/plan.json";
    x.plan2 = x.root + "/plans/plan2.json";
    x.dp = x.root + "/plans/delivery.json";
    x.rp = x.root + "/plans/RP.dcm";
    x.dose = x.root + "/dose.nii.gz";
    x.delivery = json::parse(slurp(x.dp));
    return x;
  }();
  return f;
}

// path -> size and modification time of everything under root.
using Snapshot = std::map<std::string, std::pair<uintmax_t, int64_t>>;
Snapshot snapshot(const std::string& root) {
  Snapshot s;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    // A folder's own time changes when a stage is made and removed in it: files only.
    if (!e.is_regular_file()) {
      s[e.path().string()] = {0, 0};
      continue;
    }
    const auto t = e.last_write_time().time_since_epoch().count();
    s[e.path().string()] = {e.file_size(), static_cast<int64_t>(t)};
  }
  return s;
}

struct Case {
  std::string id;
  std::string args;
  int exit_code;        // expected: 1 or 2
  std::string mention;  // stderr must contain it (the file or the flag)
};

enum Outcome { kClean, kCrash, kAccepted, kDestroyed, kLeftover, kUnclear, kOutcomeCount };
const char* kOutcomeNames[] = {"clean one-line error", "crash", "accepted silently (exit 0)",
                               "input destroyed or changed", "left something behind",
                               "unclear (wrong code, lines or naming)"};

int nonempty_lines(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

// Runs the cases, checks each, prints the group's counts by outcome.
void run_catalogue(const std::string& group, const std::vector<Case>& cases) {
  const Fixture& f = fixture();
  int counts[kOutcomeCount] = {};
  for (const Case& c : cases) {
    const Snapshot before = snapshot(f.root);
    const auto r = test::run_cli(c.args);
    const Snapshot after = snapshot(f.root);
    Outcome o = kClean;
    std::string detail;
    for (const auto& [p, v] : before) {
      auto it = after.find(p);
      if (it == after.end() || it->second != v) {
        o = kDestroyed;
        detail = p + (it == after.end() ? " removed" : " changed");
        break;
      }
    }
    if (o == kClean)
      for (const auto& [p, v] : after)
        if (!before.count(p)) {
          o = kLeftover;
          detail = p + " appeared";
          break;
        }
    if (r.exit_code < 0 || r.exit_code >= 128) o = kCrash;
    else if (r.exit_code == 0 && o == kClean) o = kAccepted;
    else if (o == kClean && (r.exit_code != c.exit_code || nonempty_lines(r.err) != 1 ||
                             r.err.find(c.mention) == std::string::npos || !r.out.empty()))
      o = kUnclear;
    ++counts[o];
    INFO(group << "/" << c.id << ": vmatplan " << c.args << "\nexit " << r.exit_code << "\nstderr: "
               << r.err << "stdout: " << r.out.substr(0, 300) << "\n" << detail);
    CHECK(kOutcomeNames[o] == std::string(kOutcomeNames[kClean]));
    // Leave the next case a clean slate even when this one failed.
    for (const auto& [p, v] : snapshot(f.root))
      if (!before.count(p)) fs::remove_all(p);
  }
  std::printf("hostile %-9s %3zu cases:", group.c_str(), cases.size());
  for (int k = 0; k < kOutcomeCount; ++k) std::printf(" %d %s;", counts[k], kOutcomeNames[k]);
  std::printf("\n");
}

std::string q(const std::string& s) { return "'" + s + "'"; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A copy of a folder (the fixture stays untouched).
std::string copy_dir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

// Edits a DICOM file in place with DCMTK.
void edit_dicom(const std::string& path, const std::function<void(DcmDataset&)>& fn) {
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(path.c_str()).good());
  fn(*ff.getDataset());
  REQUIRE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

DcmItem* item(DcmItem& parent, const DcmTagKey& seq, int n) {
  DcmItem* it = nullptr;
  parent.findAndGetSequenceItem(seq, it, n);
  REQUIRE(it != nullptr);
  return it;
}

// An RT Plan copy with control point `cp` of beam 0 edited.
std::string rp_variant(const std::string& dir, const std::string& name, int cp,
                       const std::function<void(DcmItem& cp_item, DcmDataset& ds)>& fn) {
  const std::string p = dir + "/" + name + ".dcm";
  fs::copy_file(fixture().rp, p);
  edit_dicom(p, [&](DcmDataset& ds) {
    DcmItem* beam = item(ds, DCM_BeamSequence, 0);
    fn(*item(*beam, DCM_ControlPointSequence, cp), ds);
  });
  return p;
}

// A delivery JSON copy with `fn` applied to beam 0.
std::string dp_variant(const std::string& dir, const std::string& name, const std::function<void(json& beam)>& fn) {
  json d = fixture().delivery;
  fn(d["beams"][0]);
  const std::string p = dir + "/" + name + ".json";
  std::ofstream(p) << d.dump();
  return p;
}

// An image-folder patient copy with its CT replaced by `fn`'s, written as ct<ext> (float).
std::string nifti_variant(const std::string& dir, const std::string& name,
                          const std::function<void(CtImage& ct)>& fn,
                          const std::string& ext = ".mha") {
  const std::string p = copy_dir(fixture().nifti, dir + "/" + name);
  CtImage ct = read_image_float(p + "/ct.nii.gz");
  fn(ct);
  fs::remove(p + "/ct.nii.gz");
  write_image(ct, p + "/ct" + ext);
  return p;
}

std::string first_ct_slice(const std::string& dicom_dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dicom_dir))
    if (e.path().filename().string().rfind("CT", 0) == 0) v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  REQUIRE_FALSE(v.empty());
  return v.front();
}

// A patient whose PTV mask is moved out of the body (to the image corner).
std::string ptv_outside_body(const std::string& dir) {
  const std::string p = copy_dir(fixture().nifti, dir + "/ptv_out");
  std::string ptv;
  for (const auto& e : fs::directory_iterator(p + "/masks"))
    if (e.path().filename().string().rfind("PTV", 0) == 0) ptv = e.path().string();
  REQUIRE_FALSE(ptv.empty());
  Mask m = read_mask(ptv);
  std::fill(m.voxels.begin(), m.voxels.end(), 0);
  for (int k = 2; k < 6; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 3; ++i) m.at(i, j, k) = 1;
  write_mask(m, ptv);
  return p;
}

}  // namespace

TEST_CASE("hostile: fixture for the catalogue's processes", "[.][hostile_fixture]") {
  const char* shared = shared_fixture_dir();
  REQUIRE(shared != nullptr);
  fs::remove_all(shared);
  fs::create_directories(shared);
  make_fixture_files(shared);
  std::ofstream(fs::path(shared) / kFixtureComplete) << "complete\n";
  CHECK(fs::is_regular_file(std::string(shared) + "/plans/RP.dcm"));
}

TEST_CASE("hostile: inspect and patient loading", "[hostile]") {
  const Fixture& f = fixture();
  const std::string d = f.root + "/in_inspect";
  fs::create_directories(d + "/empty");
  write_bytes(d + "/random.dcm", std::string(4096, '\x5a'));
  write_bytes(d + "/empty.mat", "");
  const std::string trunc = copy_dir(f.nifti, d + "/trunc");
  fs::resize_file(trunc + "/ct.nii.gz", fs::file_size(trunc + "/ct.nii.gz") / 2);
  const std::string nan_ct = nifti_variant(d, "nan_ct", [](CtImage& c) { c.voxels[c.voxels.size() / 2] = NAN; });
  // niftilib reads NaN and infinite voxels as 0: the reader must see them in the file.
  const std::string nan_ct_nii = nifti_variant(d, "nan_ct_nii", [](CtImage& c) { c.voxels[c.voxels.size() / 2] = NAN; }, ".nii.gz");
  const std::string inf_ct_nii = nifti_variant(d, "inf_ct_nii", [](CtImage& c) { c.voxels[3] = -INFINITY; }, ".nii");
  // dim[1] = -5: niftilib prints its own "** ERROR" line before ITK throws.
  const std::string bad_dim = copy_dir(f.nifti, d + "/bad_dim");
  {
    fs::remove(bad_dim + "/ct.nii.gz");
    write_image(read_image_float(f.nifti + "/ct.nii.gz"), bad_dim + "/ct.nii");  // uncompressed
    std::string bytes = slurp(bad_dim + "/ct.nii");
    const int16_t dim1 = -5;  // dim[1] at byte 42 of a NIfTI-1 header
    std::memcpy(&bytes[42], &dim1, 2);
    write_bytes(bad_dim + "/ct.nii", bytes);
  }
  const std::string huge_ct = nifti_variant(d, "huge_ct", [](CtImage& c) { c.voxels[7] = 1e9f; });
  const std::string badmask = copy_dir(f.nifti, d + "/badmask");
  {
    Mask m;
    m.grid.size = {3, 3, 3};
    m.voxels.assign(27, 1);
    write_mask(m, badmask + "/masks/Extra.nii.gz");
  }
  auto dicom_variant = [&](const std::string& name, const std::function<void(DcmDataset&)>& fn) {
    const std::string p = copy_dir(f.dicom, d + "/" + name);
    edit_dicom(first_ct_slice(p), fn);
    return p;
  };
  const std::string nan_spacing = dicom_variant("nan_spacing", [](DcmDataset& ds) { ds.putAndInsertString(DCM_PixelSpacing, "NaN\\NaN"); });
  const std::string zero_spacing = dicom_variant("zero_spacing", [](DcmDataset& ds) { ds.putAndInsertString(DCM_PixelSpacing, "0\\0"); });
  const std::string nan_slope = dicom_variant("nan_slope", [](DcmDataset& ds) { ds.putAndInsertString(DCM_RescaleSlope, "NaN"); });
  const std::string zero_slope = dicom_variant("zero_slope", [](DcmDataset& ds) { ds.putAndInsertString(DCM_RescaleSlope, "0"); });
  // Every slice claims 65535 x 65535 pixels its file does not hold (a 171 GB image).
  const std::string huge_rows = copy_dir(f.dicom, d + "/huge_rows");
  for (const auto& e : fs::directory_iterator(huge_rows))
    if (e.path().filename().string().rfind("CT", 0) == 0)
      edit_dicom(e.path().string(), [](DcmDataset& ds) {
        ds.putAndInsertUint16(DCM_Rows, 65535);
        ds.putAndInsertUint16(DCM_Columns, 65535);
      });
  const std::string nan_ipp = dicom_variant("nan_ipp", [](DcmDataset& ds) { ds.putAndInsertString(DCM_ImagePositionPatient, "0\\NaN\\0"); });
  const std::string other_for = copy_dir(f.dicom, d + "/other_for");
  edit_dicom(other_for + "/RS.dcm", [](DcmDataset& ds) {
    DcmItem* fr = item(ds, DCM_ReferencedFrameOfReferenceSequence, 0);
    fr->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.826.0.1.3680043.10.999.1");
    DcmItem* st = item(*fr, DCM_RTReferencedStudySequence, 0);
    item(*st, DCM_RTReferencedSeriesSequence, 0)->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.10.999.2");
    for (int n = 0; n < 20; ++n) {
      DcmItem* roi = nullptr;
      if (ds.findAndGetSequenceItem(DCM_StructureSetROISequence, roi, n).bad() || !roi) break;
      roi->putAndInsertString(DCM_ReferencedFrameOfReferenceUID, "1.2.826.0.1.3680043.10.999.1");
    }
  });
  const std::string masks_in_patient = f.nifti + "/masks_export";
  run_catalogue("inspect", {
      {"missing", "inspect --patient " + q(d + "/nope"), 1, d + "/nope"},
      {"empty_folder", "inspect --patient " + q(d + "/empty"), 1, d + "/empty"},
      {"random_bytes", "inspect --patient " + q(d + "/random.dcm"), 1, d + "/random.dcm"},
      {"empty_mat", "inspect --patient " + q(d + "/empty.mat"), 1, d + "/empty.mat"},
      {"truncated_nifti_ct", "inspect --patient " + q(trunc), 1, trunc + "/ct.nii.gz"},
      {"nan_ct_voxel", "inspect --patient " + q(nan_ct), 1, nan_ct + "/ct.mha"},
      {"nan_ct_voxel_nifti", "inspect --patient " + q(nan_ct_nii), 1, nan_ct_nii + "/ct.nii.gz"},
      {"inf_ct_voxel_nifti", "inspect --patient " + q(inf_ct_nii), 1, inf_ct_nii + "/ct.nii"},
      {"nifti_dim1_negative", "inspect --patient " + q(bad_dim), 1, bad_dim + "/ct.nii"},
      {"ct_1e9_hu", "inspect --patient " + q(huge_ct), 1, huge_ct + "/ct.mha"},
      {"mask_off_grid", "inspect --patient " + q(badmask), 1, "Extra.nii.gz"},
      {"dicom_nan_spacing", "inspect --patient " + q(nan_spacing), 1, nan_spacing},
      {"dicom_zero_spacing", "inspect --patient " + q(zero_spacing), 1, zero_spacing},
      {"dicom_nan_slope", "inspect --patient " + q(nan_slope), 1, nan_slope},
      {"dicom_zero_slope", "inspect --patient " + q(zero_slope), 1, zero_slope},
      {"dicom_nan_position", "inspect --patient " + q(nan_ipp), 1, nan_ipp},
      {"dicom_rows_65535", "inspect --patient " + q(huge_rows), 1, huge_rows},
      {"rtstruct_other_frame", "inspect --patient " + q(other_for), 1, "RS.dcm"},
      {"export_masks_inside_patient", "inspect --patient " + q(f.nifti) + " --export-masks " + q(masks_in_patient), 2, "--export-masks"},
      {"export_masks_is_patient", "inspect --patient " + q(f.nifti) + " --export-masks " + q(f.nifti), 2, "--export-masks"},
      {"export_masks_exists", "inspect --patient " + q(f.nifti) + " --export-masks " + q(f.dicom), 1, f.dicom},
      {"unknown_flag", "inspect --patient " + q(f.nifti) + " --frobnicate", 2, "--frobnicate"},
  });
}

TEST_CASE("hostile: check and plan readers", "[hostile]") {
  const Fixture& f = fixture();
  const std::string d = f.root + "/in_check";
  fs::create_directories(d);
  write_bytes(d + "/empty.json", "");
  write_bytes(d + "/trunc.json", slurp(f.dp).substr(0, 200));
  write_bytes(d + "/array.json", "[1,2,3]");
  write_bytes(d + "/format_number.json", "{\"format\": 5, \"beams\": []}");
  write_bytes(d + "/random.dcm", std::string(300, '\x01'));
  // An element cut short: DCMTK's own log must not add a line before vmatplan's.
  write_bytes(d + "/truncated_rp.dcm", slurp(f.rp).substr(0, fs::file_size(f.rp) * 2 / 3));
  const std::string no_mlc_cp0 = rp_variant(d, "no_mlc_cp0", 0, [](DcmItem& cp, DcmDataset&) {
    DcmSequenceOfItems* seq = nullptr;
    REQUIRE(cp.findAndGetSequence(DCM_BeamLimitingDevicePositionSequence, seq).good());
    for (unsigned long i = seq->card(); i-- > 0;) {
      OFString type;
      seq->getItem(i)->findAndGetOFString(DCM_RTBeamLimitingDeviceType, type);
      if (type == "MLCX") delete seq->remove(i);
    }
  });
  const std::string no_gantry = rp_variant(d, "no_gantry_cp0", 0, [](DcmItem& cp, DcmDataset&) { cp.findAndDeleteElement(DCM_GantryAngle); });
  const std::string nan_gantry = rp_variant(d, "nan_gantry_cp1", 1, [](DcmItem& cp, DcmDataset&) { cp.putAndInsertString(DCM_GantryAngle, "NaN"); });
  const std::string no_energy = rp_variant(d, "no_energy_cp0", 0, [](DcmItem& cp, DcmDataset&) { cp.findAndDeleteElement(DCM_NominalBeamEnergy); });
  const std::string no_iso = rp_variant(d, "no_iso_cp0", 0, [](DcmItem& cp, DcmDataset&) { cp.findAndDeleteElement(DCM_IsocenterPosition); });
  const std::string dec_weight = rp_variant(d, "dec_weight", 2, [](DcmItem& cp, DcmDataset&) { cp.putAndInsertString(DCM_CumulativeMetersetWeight, "0"); });
  const std::string neg_mu = rp_variant(d, "neg_mu", 0, [](DcmItem&, DcmDataset& ds) {
    DcmItem* fg = item(ds, DCM_FractionGroupSequence, 0);
    item(*fg, DCM_ReferencedBeamSequence, 0)->putAndInsertString(DCM_BeamMeterset, "-100");
  });
  const std::string leaf_far = rp_variant(d, "leaf_5000", 3, [](DcmItem& cp, DcmDataset&) {
    DcmSequenceOfItems* seq = nullptr;
    REQUIRE(cp.findAndGetSequence(DCM_BeamLimitingDevicePositionSequence, seq).good());
    for (unsigned long i = 0; i < seq->card(); ++i) {
      OFString type;
      seq->getItem(i)->findAndGetOFString(DCM_RTBeamLimitingDeviceType, type);
      if (type != "MLCX") continue;
      std::string v = "-5000";
      for (int k = 1; k < 120; ++k) v += k < 60 ? "\\-5000" : "\\5000";
      seq->getItem(i)->putAndInsertString(DCM_LeafJawPositions, v.c_str());
    }
  });
  const std::string j_cp_count = dp_variant(d, "leaf_count", [](json& b) { b["control_points"][0]["leaf_x1_mm"].erase(0); });
  const std::string j_dec = dp_variant(d, "dec", [](json& b) { b["control_points"][3]["cumulative_meterset_weight"] = 0.0; });
  const std::string j_neg = dp_variant(d, "neg", [](json& b) { b["meterset_mu"] = -50.0; });
  const std::string j_gantry = dp_variant(d, "gantry", [](json& b) { b["control_points"][1]["gantry_deg"] = 400.0; });
  const std::string j_leaf = dp_variant(d, "leaf", [](json& b) {
    for (auto& x : b["control_points"][2]["leaf_x2_mm"]) x = 5000.0;
  });
  const std::string j_final = dp_variant(d, "final0", [](json& b) { b["final_cumulative_meterset_weight"] = 0.0; });
  const std::string j_inf = d + "/inf.json";
  {
    std::string text = f.delivery.dump();
    const auto at = text.find("\"gantry_deg\":");
    text.replace(at, text.find(',', at) - at, "\"gantry_deg\":1e999");
    write_bytes(j_inf, text);
  }
  // A plan file whose safetensors declares [2^62, 21, 21] floats with no data.
  const std::string huge = copy_dir(f.root + "/plans", d + "/huge");
  {
    json h = {{"fluence", {{"dtype", "F32"}, {"shape", {4611686018427387904ULL, 21, 21}}, {"data_offsets", {0, 0}}}}};
    std::string text = h.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    write_bytes(huge + "/plan.safetensors", bytes + text);
  }
  const std::string trunc_st = copy_dir(f.root + "/plans", d + "/trunc_st");
  fs::resize_file(trunc_st + "/plan.safetensors", fs::file_size(trunc_st + "/plan.safetensors") - 100);
  run_catalogue("check", {
      {"missing", "check " + q(d + "/nope.dcm"), 1, d + "/nope.dcm"},
      {"folder", "check " + q(d), 1, d},
      {"empty_file", "check " + q(d + "/empty.json"), 1, d + "/empty.json"},
      {"truncated_json", "check " + q(d + "/trunc.json"), 1, d + "/trunc.json"},
      {"json_array", "check " + q(d + "/array.json"), 1, d + "/array.json"},
      {"json_format_number", "check " + q(d + "/format_number.json"), 1, d + "/format_number.json"},
      {"random_dcm", "check " + q(d + "/random.dcm"), 1, d + "/random.dcm"},
      {"truncated_rp", "check " + q(d + "/truncated_rp.dcm"), 1, d + "/truncated_rp.dcm"},
      {"ct_slice_as_plan", "check " + q(first_ct_slice(f.dicom)), 1, first_ct_slice(f.dicom)},
      {"rp_cp0_without_mlc", "check " + q(no_mlc_cp0), 1, no_mlc_cp0},
      {"rp_cp0_without_gantry", "check " + q(no_gantry), 1, no_gantry},
      {"rp_nan_gantry", "check " + q(nan_gantry), 1, nan_gantry},
      {"rp_cp0_without_energy", "check " + q(no_energy), 1, no_energy},
      {"rp_cp0_without_isocentre", "check " + q(no_iso), 1, no_iso},
      {"rp_decreasing_weight", "check " + q(dec_weight), 1, dec_weight},
      {"rp_negative_meterset", "check " + q(neg_mu), 1, neg_mu},
      {"rp_leaf_5000", "check " + q(leaf_far), 1, leaf_far},
      {"json_leaf_count", "check " + q(j_cp_count), 1, j_cp_count},
      {"json_decreasing_weight", "check " + q(j_dec), 1, j_dec},
      {"json_negative_meterset", "check " + q(j_neg), 1, j_neg},
      {"json_gantry_400", "check " + q(j_gantry), 1, j_gantry},
      {"json_leaf_5000", "check " + q(j_leaf), 1, j_leaf},
      {"json_final_weight_0", "check " + q(j_final), 1, j_final},
      {"json_gantry_inf", "check " + q(j_inf), 1, j_inf},
      {"fluence_plan_not_sequenced", "check " + q(f.plan), 1, f.plan},
      {"unknown_machine", "check " + q(f.dp) + " --machine no_such_linac", 1, "no_such_linac"},
      {"safetensors_2pow62", "dose --patient " + q(f.nifti) + " --plan " + q(huge + "/plan.json") + " --out " + q(d + "/x.nii.gz"), 1, huge + "/plan.safetensors"},
      {"safetensors_truncated", "dose --patient " + q(f.nifti) + " --plan " + q(trunc_st + "/plan.json") + " --out " + q(d + "/x.nii.gz"), 1, trunc_st + "/plan.safetensors"},
  });
}

TEST_CASE("hostile: dose, optimize and sequence", "[hostile]") {
  const Fixture& f = fixture();
  const std::string d = f.root + "/in_dose";
  fs::create_directories(d);
  write_bytes(d + "/existing.nii.gz", "x");
  write_bytes(d + "/existing.json", "{}");
  const std::string no_mlc_cp0 = rp_variant(d, "no_mlc_cp0", 0, [](DcmItem& cp, DcmDataset&) {
    DcmSequenceOfItems* seq = nullptr;
    REQUIRE(cp.findAndGetSequence(DCM_BeamLimitingDevicePositionSequence, seq).good());
    for (unsigned long i = seq->card(); i-- > 0;) {
      OFString type;
      seq->getItem(i)->findAndGetOFString(DCM_RTBeamLimitingDeviceType, type);
      if (type == "MLCX") delete seq->remove(i);
    }
  });
  const std::string dec = rp_variant(d, "dec", 2, [](DcmItem& cp, DcmDataset&) { cp.putAndInsertString(DCM_CumulativeMetersetWeight, "0"); });
  const std::string ptv_out = ptv_outside_body(d);
  const std::string nan_ct = nifti_variant(d, "nan_ct", [](CtImage& c) { c.voxels[0] = NAN; });
  const std::string P = " --patient " + q(f.nifti);
  run_catalogue("dose", {
      {"rp_cp0_without_mlc", "dose" + P + " --plan " + q(no_mlc_cp0) + " --out " + q(d + "/o.nii.gz"), 1, no_mlc_cp0},
      {"rp_decreasing_weight", "dose" + P + " --plan " + q(dec) + " --out " + q(d + "/o.nii.gz"), 1, dec},
      {"plan_missing", "dose" + P + " --plan " + q(d + "/nope.json") + " --out " + q(d + "/o.nii.gz"), 1, d + "/nope.json"},
      {"patient_missing", "dose --patient " + q(d + "/nobody") + " --plan " + q(f.plan) + " --out " + q(d + "/o.nii.gz"), 1, d + "/nobody"},
      {"patient_nan_ct", "dose --patient " + q(nan_ct) + " --plan " + q(f.plan) + " --out " + q(d + "/o.nii.gz"), 1, nan_ct},
      {"out_bad_extension", "dose" + P + " --plan " + q(f.plan) + " --out " + q(d + "/o.png"), 2, "--out"},
      {"out_unwritable", "dose" + P + " --plan " + q(f.plan) + " --out /proc/vmatplan_o.nii.gz", 1, "/proc/vmatplan_o.nii.gz"},
      {"out_exists", "dose" + P + " --plan " + q(f.plan) + " --out " + q(d + "/existing.nii.gz"), 1, d + "/existing.nii.gz"},
      {"out_inside_patient", "dose" + P + " --plan " + q(f.plan) + " --out " + q(f.nifti + "/d.nii.gz"), 2, "--out"},
      {"spacing_zero", "dose" + P + " --plan " + q(f.plan) + " --out " + q(d + "/o.nii.gz") + " --spacing 0", 2, "--spacing"},
      {"spacing_nan", "dose" + P + " --plan " + q(f.plan) + " --out " + q(d + "/o.nii.gz") + " --spacing nan", 2, "--spacing"},
      {"optimize_out_exists", "optimize" + P + " --out " + q(f.plan), 1, f.plan},
      {"optimize_out_is_patient", "optimize" + P + " --out " + q(f.nifti), 2, "--out"},
      {"optimize_out_inside_patient", "optimize" + P + " --out " + q(f.nifti + "/p.json"), 2, "--out"},
      {"optimize_protocol_missing", "optimize" + P + " --protocol " + q(d + "/nope.json") + " --out " + q(d + "/p.json"), 1, d + "/nope.json"},
      {"optimize_machine_missing", "optimize" + P + " --machine no_such_linac --out " + q(d + "/p.json"), 1, "no_such_linac"},
      {"optimize_ptv_outside_body", "optimize --patient " + q(ptv_out) + " --out " + q(d + "/p.json"), 1, ptv_out},
      {"optimize_unwritable", "optimize" + P + " --out /proc/vmatplan_p.json", 1, "/proc/vmatplan_p.json"},
      {"sequence_out_exists", "sequence --plan " + q(f.plan) + " --out " + q(d + "/existing.json"), 1, d + "/existing.json"},
      {"sequence_out_is_plan", "sequence --plan " + q(f.plan) + " --out " + q(f.plan) + " --overwrite", 2, "--out"},
      {"sequence_plan_missing", "sequence --plan " + q(d + "/nope.json") + " --out " + q(d + "/s.json"), 1, d + "/nope.json"},
      {"sequence_plan_is_delivery", "sequence --plan " + q(f.dp) + " --out " + q(d + "/s.json"), 1, f.dp},
  });
}

TEST_CASE("hostile: export and evaluate", "[hostile]") {
  const Fixture& f = fixture();
  const std::string d = f.root + "/in_export";
  fs::create_directories(d + "/existing");
  const std::string nan_gantry = rp_variant(d, "nan_gantry", 1, [](DcmItem& cp, DcmDataset&) { cp.putAndInsertString(DCM_GantryAngle, "NaN"); });
  const std::string neg_mu = rp_variant(d, "neg_mu", 0, [](DcmItem&, DcmDataset& ds) {
    DcmItem* fg = item(ds, DCM_FractionGroupSequence, 0);
    item(*fg, DCM_ReferencedBeamSequence, 0)->putAndInsertString(DCM_BeamMeterset, "-100");
  });
  const std::string no_gantry = rp_variant(d, "no_gantry", 0, [](DcmItem& cp, DcmDataset&) { cp.findAndDeleteElement(DCM_GantryAngle); });
  // Deliverable structure, undeliverable on the machine: a leaf beyond its travel range.
  const std::string j_travel = dp_variant(d, "travel", [](json& b) {
    for (auto& cp : b["control_points"]) cp["leaf_x2_mm"][30] = 400.0;
  });
  auto dose_variant = [&](const std::string& name, const std::function<void(CtImage&)>& fn,
                          const std::string& ext = ".mha") {
    CtImage img = read_image_float(f.dose);
    fn(img);
    const std::string p = d + "/" + name + ext;
    write_image(img, p);
    return p;
  };
  const std::string nan_dose = dose_variant("nan_dose", [](CtImage& c) { c.voxels[5] = NAN; });
  const std::string nan_dose_nii = dose_variant("nan_dose_nii", [](CtImage& c) { c.voxels[5] = NAN; }, ".nii.gz");
  const std::string neg_dose = dose_variant("neg_dose", [](CtImage& c) { c.voxels[5] = -3; });
  const std::string far_dose = dose_variant("far_dose", [](CtImage& c) { c.grid.origin_mm[0] += 5000; });
  const std::string huge_dose = dose_variant("huge_dose", [](CtImage& c) { c.voxels[5] = 1e6f; });
  write_bytes(d + "/bad_protocol.json", "{\"name\": ");
  const std::string P = " --patient " + q(f.nifti);
  const std::string E = "evaluate" + P + " --dose " + q(f.dose);
  run_catalogue("export", {
      {"nan_gantry", "export" + P + " --plan " + q(nan_gantry) + " --out " + q(d + "/o"), 1, nan_gantry},
      {"negative_meterset", "export" + P + " --plan " + q(neg_mu) + " --out " + q(d + "/o"), 1, neg_mu},
      {"cp0_without_gantry", "export" + P + " --plan " + q(no_gantry) + " --out " + q(d + "/o"), 1, no_gantry},
      {"leaf_beyond_travel", "export" + P + " --plan " + q(j_travel) + " --out " + q(d + "/o"), 1, j_travel},
      {"fluence_plan", "export" + P + " --plan " + q(f.plan) + " --out " + q(d + "/o"), 1, f.plan},
      {"out_is_patient", "export" + P + " --plan " + q(f.dp) + " --out " + q(f.nifti) + " --overwrite", 2, "--out"},
      {"out_inside_patient", "export" + P + " --plan " + q(f.dp) + " --out " + q(f.nifti + "/rt"), 2, "--out"},
      {"out_exists", "export" + P + " --plan " + q(f.dp) + " --out " + q(d + "/existing"), 1, d + "/existing"},
      {"nan_dose", "export" + P + " --plan " + q(f.dp) + " --dose " + q(nan_dose) + " --out " + q(d + "/o"), 1, nan_dose},
      {"dose_missing", "export" + P + " --plan " + q(f.dp) + " --dose " + q(d + "/nope.nii.gz") + " --out " + q(d + "/o"), 1, d + "/nope.nii.gz"},
  });
  run_catalogue("evaluate", {
      {"out_is_patient", E + " --out " + q(f.nifti) + " --overwrite", 2, "--out"},
      {"out_contains_patient", E + " --out " + q(f.root) + " --overwrite", 2, "--out"},
      {"out_inside_patient", E + " --out " + q(f.nifti + "/report"), 2, "--out"},
      {"out_is_dose", E + " --out " + q(f.dose) + " --overwrite", 2, "--out"},
      {"out_exists", E + " --out " + q(d + "/existing"), 1, d + "/existing"},
      {"nan_dose", "evaluate" + P + " --dose " + q(nan_dose) + " --out " + q(d + "/o"), 1, nan_dose},
      {"nan_dose_nifti", "evaluate" + P + " --dose " + q(nan_dose_nii) + " --out " + q(d + "/o"), 1, nan_dose_nii},
      {"negative_dose", "evaluate" + P + " --dose " + q(neg_dose) + " --out " + q(d + "/o"), 1, neg_dose},
      {"dose_far_from_patient", "evaluate" + P + " --dose " + q(far_dose) + " --out " + q(d + "/o"), 1, far_dose},
      {"dose_1e6_gy", "evaluate" + P + " --dose " + q(huge_dose) + " --out " + q(d + "/o"), 1, huge_dose},
      {"dose_is_folder", "evaluate" + P + " --dose " + q(d) + " --out " + q(f.root + "/eval_o"), 1, d},
      {"dose_missing", "evaluate" + P + " --dose " + q(d + "/nope.nii.gz") + " --out " + q(d + "/o"), 1, d + "/nope.nii.gz"},
      {"reference_nan", E + " --reference " + q(nan_dose) + " --out " + q(d + "/o"), 1, nan_dose},
      {"protocol_missing", E + " --protocol " + q(d + "/nope.json") + " --out " + q(d + "/o"), 1, d + "/nope.json"},
      {"protocol_truncated", E + " --protocol " + q(d + "/bad_protocol.json") + " --out " + q(d + "/o"), 1, d + "/bad_protocol.json"},
      {"out_unwritable", E + " --out /proc/vmatplan_eval", 1, "/proc/vmatplan_eval"},
  });
}

TEST_CASE("hostile: generate, batch, phantom and water", "[hostile]") {
  const Fixture& f = fixture();
  const std::string d = f.root + "/in_generate";
  fs::create_directories(d + "/existing");
  const std::string ptv_out = ptv_outside_body(d);
  const std::string nan_ct = nifti_variant(d, "nan_ct", [](CtImage& c) { c.voxels[0] = NAN; });
  auto manifest = [&](const std::string& name, const json& j) {
    const std::string p = d + "/" + name + ".json";
    std::ofstream(p) << j.dump();
    return p;
  };
  const std::string m_nl = manifest("id_newline", {{"patients", {{{"id", "a\nb"}, {"path", f.nifti}}}}});
  const std::string m_nul = manifest("id_nul", {{"patients", {{{"id", std::string("a\0b", 3)}, {"path", f.nifti}}}}});
  const std::string m_slash = manifest("id_slash", {{"patients", {{{"id", "../x"}, {"path", f.nifti}}}}});
  const std::string m_comma = manifest("id_comma", {{"patients", {{{"id", "a,b"}, {"path", f.nifti}}}}});
  const std::string m_dup = manifest("id_dup", {{"patients", {{{"id", "a"}, {"path", f.nifti}}, {{"id", "a"}, {"path", f.dicom}}}}});
  const std::string m_protocol = manifest("protocol_number", {{"patients", {{{"id", "a"}, {"path", f.nifti}, {"protocol", 5}}}}});
  const std::string m_ok = manifest("ok", {{"patients", {{{"id", "a"}, {"path", f.nifti}}}}});
  write_bytes(d + "/bad.csv", "name,where\nx,y\n");
  const std::string P = " --patient " + q(f.nifti);
  run_catalogue("generate", {
      {"out_exists", "generate" + P + " --out " + q(d + "/existing"), 1, d + "/existing"},
      {"out_is_patient", "generate" + P + " --out " + q(f.nifti) + " --overwrite", 2, "--out"},
      {"out_contains_patient", "generate" + P + " --out " + q(f.root) + " --overwrite", 2, "--out"},
      {"out_inside_patient", "generate" + P + " --out " + q(f.nifti + "/plan"), 2, "--out"},
      {"out_unwritable", "generate" + P + " --out /proc/vmatplan_plan", 1, "/proc/vmatplan_plan"},
      {"ptv_outside_body", "generate --patient " + q(ptv_out) + " --out " + q(d + "/o"), 1, ptv_out},
      {"nan_ct", "generate --patient " + q(nan_ct) + " --out " + q(d + "/o"), 1, nan_ct},
      {"protocol_missing", "generate" + P + " --protocol " + q(d + "/nope.json") + " --out " + q(d + "/o"), 1, d + "/nope.json"},
      {"machine_missing", "generate" + P + " --machine no_such_linac --out " + q(d + "/o"), 1, "no_such_linac"},
      {"bad_arcs", "generate" + P + " --arcs 0:90:sideways --out " + q(d + "/o"), 2, "0:90:sideways"},
      {"final_dose_spacing_0", "generate" + P + " --final-dose-spacing 0 --out " + q(d + "/o"), 2, "--final-dose-spacing"},
      {"generator_unknown", "generate" + P + " --generator magic --out " + q(d + "/o"), 2, "magic"},
  });
  run_catalogue("batch", {
      {"manifest_missing", "batch --cohort " + q(d + "/nope.csv") + " --out " + q(d + "/b"), 1, d + "/nope.csv"},
      {"id_newline", "batch --cohort " + q(m_nl) + " --out " + q(d + "/b"), 1, m_nl},
      {"id_nul", "batch --cohort " + q(m_nul) + " --out " + q(d + "/b"), 1, m_nul},
      {"id_slash", "batch --cohort " + q(m_slash) + " --out " + q(d + "/b"), 1, m_slash},
      {"id_comma", "batch --cohort " + q(m_comma) + " --out " + q(d + "/b"), 1, m_comma},
      {"protocol_number", "batch --cohort " + q(m_protocol) + " --out " + q(d + "/b"), 1, m_protocol},
      {"id_duplicate", "batch --cohort " + q(m_dup) + " --out " + q(d + "/b"), 1, m_dup},
      {"csv_without_id_column", "batch --cohort " + q(d + "/bad.csv") + " --out " + q(d + "/b"), 1, d + "/bad.csv"},
      {"out_contains_patient", "batch --cohort " + q(m_ok) + " --out " + q(f.root), 2, "--out"},
      {"out_is_manifest", "batch --cohort " + q(m_ok) + " --out " + q(m_ok), 2, "--out"},
      {"bad_shard", "batch --cohort " + q(m_ok) + " --out " + q(d + "/b") + " --shard 3/2", 2, "--shard"},
      {"jobs_zero", "batch --cohort " + q(m_ok) + " --out " + q(d + "/b") + " --jobs 0", 2, "--jobs"},
  });
  run_catalogue("phantom", {
      {"out_exists", "phantom --seed 1 --out " + q(d + "/existing"), 1, d + "/existing"},
      {"negative_cohort", "phantom --seed 1 --cohort -1 --out " + q(d + "/ph"), 2, "--cohort"},
      {"bad_format", "phantom --seed 1 --format jpeg --out " + q(d + "/ph"), 2, "--format"},
      {"spacing_two_values", "phantom --seed 1 --spacing 1,2 --out " + q(d + "/ph"), 2, "--spacing"},
      {"spacing_zero", "phantom --seed 1 --spacing 0,0,0 --out " + q(d + "/ph"), 2, "--spacing"},
      {"spacing_nan", "phantom --seed 1 --spacing nan,4,4 --out " + q(d + "/ph"), 2, "--spacing"},
      {"out_under_a_file", "phantom --seed 1 --out " + q(f.dose + "/ph"), 1, f.dose},
      {"water_bad_field", "water --field 10by10", 2, "--field"},
      {"water_zero_field", "water --field 0x0", 2, "--field"},
      {"water_negative_ssd", "water --ssd -5", 2, "--ssd"},
      {"water_nan_ssd", "water --ssd nan", 2, "--ssd"},
  });
}
