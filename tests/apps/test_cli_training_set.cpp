// `batch --training-set` end to end on tiny phantoms: training.safetensors per patient and
// training_manifest.json, read back with the project's reader and with plain Python, and a
// batch killed with SIGKILL half-way and resumed that ends as an uninterrupted run does.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_support.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/safetensors.h"
#include "vmatplan/geometry/bev_conditioning.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

// A cohort of tiny phantoms with seeds first, first+1, ... as patients P<seed>.
std::string make_cohort(const std::string& dir, int first, int count) {
  std::ofstream m(dir + "/cohort.csv");
  m << "id,path\n";
  for (int seed = first; seed < first + count; ++seed) {
    std::string path;
    const auto r = test::make_tiny_phantom(dir, seed, &path);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    m << "P" << seed << "," << path << "\n";
  }
  return dir + "/cohort.csv";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// cohort_summary.csv without the columns that time the run (total_seconds): what must
// agree between runs of the same cohort, seed and thread count.
std::string summary_without_timing(const std::string& csv_path) {
  std::istringstream in(read_text(csv_path));
  std::string line, out;
  std::vector<bool> keep;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (keep.empty())
      for (const auto& c : cells) keep.push_back(c.find("seconds") == std::string::npos && c != "host");
    for (size_t i = 0; i < cells.size(); ++i)
      if (i >= keep.size() || keep[i]) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

const char* kPythonReader = R"(import hashlib, json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = header.pop("__metadata__")
def tensor(name, code):
    t = header[name]
    b, e = t["data_offsets"]
    return t["shape"], struct.unpack("<%d%s" % ((e - b) // 4, code), data[b:e])
cs, cond = tensor("conditioning", "f")
fs, flu = tensor("fluence", "f")
gs, gantry = tensor("gantry_deg", "f")
bs, beam = tensor("beam_index", "i")
names = json.loads(meta["channel_names"])
assert cs[1] == len(names) and cs[0] == fs[0] == gs[0] == bs[0] and cs[2:] == fs[1:]
assert min(flu) >= 0 and min(cond) >= 0
print(" ".join(map(str, cs)), ",".join(names), meta["fluence_unit"].replace(" ", "_"),
      "%.6e" % sum(flu), hashlib.sha256(raw).hexdigest())
)";

}  // namespace

TEST_CASE("batch --training-set writes examples and a manifest", "[cli][batch][training][slow]") {
  const std::string dir = test::scratch_dir("cli_training_set");
  const std::string cohort = make_cohort(dir, 31, 2);
  auto r = test::run_cli("--threads 1 batch --cohort " + cohort + test::kCoarsePlanFlags +
                         " --training-set --jobs 2 --out " + dir + "/run");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("training_manifest.json") != std::string::npos);

  const nlohmann::json m = read_json_file(dir + "/run/training_manifest.json");
  CHECK(m["format"] == "vmatplan-training-set");
  CHECK(m["format_version"] == 2);
  CHECK(m["data_version"].get<std::string>().size() == 64);
  REQUIRE(m["count"] == 2);
  REQUIRE(m["channel_names"].size() == size_t(kBevChannelCount));
  for (int ch = 0; ch < kBevChannelCount; ++ch) CHECK(m["channel_names"][ch] == kBevChannelNames[ch]);
  CHECK(m["shared"]["fluence_unit"] == "MU per fraction");
  CHECK(m["shared"]["bixel_width_mm"] == 10.0);
  CHECK(m["shared"]["machine"] == "generic_6mv_mlc120");

  for (const auto& e : m["patients"]) {
    const std::string id = e["id"], path = dir + "/run/" + e["file"].get<std::string>();
    INFO(id);
    // Training examples are the reference (classical) planner's plans, whatever the default.
    CHECK(read_json_file(dir + "/run/" + id + "/summary.json")["fluence_stage"]["generator"] == "classical");
    CHECK(e["file"] == id + "/training.safetensors");
    REQUIRE(fs::is_regular_file(path));
    CHECK(e["bytes"].get<uintmax_t>() == fs::file_size(path));
    CHECK(e["absent_channels"].empty());  // the phantoms have every organ
    CHECK(e["patient_id"] == "PHANTOM-" + id.substr(1));
    CHECK((m["shared"].contains("leaf_row_edges_mm") || e.contains("leaf_row_edges_mm")));
    auto sum = test::run_shell("sha256sum " + path);
    REQUIRE(sum.exit_code == 0);
    CHECK(sum.out.substr(0, 64) == e["sha256"].get<std::string>());

    // The project's reader: shapes, metadata, units, non-negative fluence that stays
    // within the target's projection grown by one bixel and one leaf row.
    const SafeTensorsFile st = read_safetensors(path);
    const SafeTensor& cond = st.get("conditioning");
    const SafeTensor& flu = st.get("fluence");
    REQUIRE(cond.shape.size() == 4);
    const int64_t cps = cond.shape[0], rows = cond.shape[2], bixels = cond.shape[3];
    CHECK(cond.shape[1] == kBevChannelCount);
    CHECK(flu.shape == std::vector<int64_t>{cps, rows, bixels});
    CHECK(e["tensors"]["conditioning"]["shape"].get<std::vector<int64_t>>() == cond.shape);
    CHECK(st.get("gantry_deg").shape == std::vector<int64_t>{cps});
    CHECK(st.get("beam_index").dtype == "I32");
    CHECK(cps == 32);  // two 60 degree arcs at 4 degrees: 16 control points each
    CHECK(st.metadata.at("fractions") == "20");
    CHECK(st.metadata.at("protocol") == "prostate_60gy_20fx");
    CHECK(st.metadata.at("channel_sources").find("\"target\":\"PTV\"") != std::string::npos);
    const auto c = cond.as<float>();
    const auto f = flu.as<float>();
    double total = 0, inside = 0;
    for (int64_t cp = 0; cp < cps; ++cp)
      for (int64_t r0 = 0; r0 < rows; ++r0)
        for (int64_t b0 = 0; b0 < bixels; ++b0) {
          const float v = f[(cp * rows + r0) * bixels + b0];
          CHECK(v >= 0.0f);
          total += v;
          bool near_target = false;
          for (int64_t r1 = std::max<int64_t>(0, r0 - 1); r1 <= std::min(rows - 1, r0 + 1); ++r1)
            for (int64_t b1 = std::max<int64_t>(0, b0 - 1); b1 <= std::min(bixels - 1, b0 + 1); ++b1)
              near_target |= c[((cp * kBevChannelCount + kChannelTarget) * rows + r1) * bixels + b1] > 0;
          if (near_target) inside += v;
        }
    CHECK(total > 0);
    CHECK(inside >= 0.95 * total);

    // A reader that knows nothing of vmatplan: plain Python.
    if (!test::have_program("/usr/bin/python3")) {
      WARN("skipped: /usr/bin/python3 not found");
      continue;
    }
    std::ofstream(dir + "/read.py") << kPythonReader;
    auto py = test::run_shell("/usr/bin/python3 " + dir + "/read.py " + path);
    INFO(py.err);
    REQUIRE(py.exit_code == 0);
    std::istringstream words(py.out);
    int64_t s0, s1, s2, s3;
    std::string names, unit, hash;
    double py_sum = 0;
    words >> s0 >> s1 >> s2 >> s3 >> names >> unit >> py_sum >> hash;
    CHECK(std::vector<int64_t>{s0, s1, s2, s3} == cond.shape);
    CHECK(names == "target,rectum,bladder,femoral_head_left,femoral_head_right,body_depth");
    CHECK(unit == "MU_per_fraction");
    CHECK(py_sum == Approx(total).epsilon(1e-5));
    CHECK(hash == e["sha256"].get<std::string>());
  }
}

TEST_CASE("batch killed half-way and resumed ends as an uninterrupted run", "[cli][batch][training][slow]") {
  const std::string dir = test::scratch_dir("cli_kill_resume");
  const std::string cohort = make_cohort(dir, 41, 4);
  const std::string batch = std::string("'") + VMATPLAN_CLI_PATH + "' --threads 1 batch --cohort " +
                            cohort + test::kCoarsePlanFlags + " --training-set --jobs 2";

  auto full = test::run_shell(batch + " --out " + dir + "/full");
  INFO(full.err);
  REQUIRE(full.exit_code == 0);

  // The interrupted run in its own session (process group = its pid), killed with SIGKILL
  // together with its workers as soon as one patient folder is finished.
  auto started = test::run_shell("setsid " + batch + " --out " + dir + "/killed > " + dir +
                                 "/killed.log 2>&1 < /dev/null & echo $!");
  REQUIRE(started.exit_code == 0);
  const std::string pid = started.out.substr(0, started.out.find('\n'));
  auto finished_ids = [&] {
    std::vector<std::string> ids;
    for (int seed = 41; seed < 45; ++seed)
      if (fs::is_regular_file(dir + "/killed/P" + std::to_string(seed) + "/summary.json"))
        ids.push_back("P" + std::to_string(seed));
    return ids;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (finished_ids().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  test::run_shell("kill -9 -" + pid);  // fails only when the run had already ended
  // Gone when no member of the group is left but zombies (whoever reaps them).
  const std::string alive = "ps -eo pgid=,stat= | awk '$1 == " + pid + " && $2 !~ /^Z/' | grep -q .";
  while (test::run_shell(alive).exit_code == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // What the kill left: finished folders are complete, nothing else looks finished.
  const auto done = finished_ids();
  REQUIRE(!done.empty());
  if (done.size() == 4) WARN("every patient finished before the kill; resume has nothing to do");
  for (const auto& e : fs::directory_iterator(dir + "/killed")) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name[0] == '.') continue;  // .P41.partial-*: stages, not patients
    INFO(name);
    CHECK(std::find(done.begin(), done.end(), name) != done.end());
    CHECK(fs::is_regular_file(e.path() / "RP.dcm"));
    CHECK(fs::is_regular_file(e.path() / "training.safetensors"));
  }

  auto resumed = test::run_shell(batch + " --resume --out " + dir + "/killed");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  for (const auto& id : done) CHECK(resumed.err.find(id + ": finished earlier, skipped") != std::string::npos);
  CHECK(read_json_file(dir + "/killed/cohort_summary.json")["done"] == 4);
  for (const auto& e : fs::directory_iterator(dir + "/killed"))  // stale stages cleaned up
    CHECK(e.path().filename().string().find(".partial-") == std::string::npos);

  CHECK(summary_without_timing(dir + "/killed/cohort_summary.csv") ==
        summary_without_timing(dir + "/full/cohort_summary.csv"));
  // The training examples are bit-identical too, so the dataset versions agree.
  const auto a = read_json_file(dir + "/full/training_manifest.json");
  const auto b = read_json_file(dir + "/killed/training_manifest.json");
  CHECK(a["count"] == 4);
  CHECK(a["data_version"] == b["data_version"]);
  CHECK(a["patients"] == b["patients"]);
}
