// run_batch: a cohort through generate_plan, with shards, resume and parallel processes.
#include "vmatplan/pipeline/batch.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/pipeline/training_set.h"

namespace vmatplan {
namespace {
namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  const size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) cells.push_back(trim(cell));
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

std::vector<CohortEntry> parse_csv(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError(path, "cannot open cohort manifest");
  std::string line;
  std::map<std::string, size_t> column;
  std::vector<CohortEntry> entries;
  int line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    const auto cells = split_csv_line(line);
    if (column.empty()) {
      for (size_t i = 0; i < cells.size(); ++i) column[cells[i]] = i;
      if (!column.count("id") || !column.count("path"))
        throw InputError(path, "line " + std::to_string(line_no) + ": header must name the columns id and path");
      continue;
    }
    auto get = [&](const char* name) {
      auto it = column.find(name);
      return it != column.end() && it->second < cells.size() ? cells[it->second] : std::string();
    };
    entries.push_back({get("id"), get("path"), get("protocol")});
    if (entries.back().id.empty() || entries.back().path.empty())
      throw InputError(path, "line " + std::to_string(line_no) + ": id and path must not be empty");
  }
  if (column.empty()) throw InputError(path, "empty cohort manifest (expected a header id,path[,protocol])");
  return entries;
}

std::vector<CohortEntry> parse_json(const std::string& path) {
  nlohmann::json j = read_json_file(path, "cohort manifest", false);
  if (j.is_object() && j.contains("patients")) j = j["patients"];
  if (!j.is_array()) throw InputError(path, "expected an array of {id, path, protocol?} or {\"patients\": [...]}");
  std::vector<CohortEntry> entries;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    if (!e.is_object() || !e.contains("id") || !e.contains("path") || !e["id"].is_string() ||
        !e["path"].is_string())
      throw InputError(path, "entry " + std::to_string(i) + ": needs string fields id and path");
    if (e.contains("protocol") && !e["protocol"].is_string())
      throw InputError(path, "entry " + std::to_string(i) + ": protocol must be a string (a protocol name or file)");
    entries.push_back({e["id"].get<std::string>(), e["path"].get<std::string>(),
                       e.value("protocol", std::string())});
  }
  return entries;
}

// Plans one patient into out/<id>; a failure leaves out/<id>.failed.json. Returns ok.
bool plan_patient(const BatchOptions& options, const CohortEntry& e, std::string& error) {
  const std::string failed = options.out + "/" + e.id + ".failed.json";
  std::error_code ec;
  fs::remove(failed, ec);
  // A killed earlier run may have left its half-written stage of this patient behind.
  remove_stale_stages(options.out + "/" + e.id);
  GenerateOptions g = options.plan;
  g.patient = e.path;
  g.out = options.out + "/" + e.id;
  g.overwrite = true;  // an existing folder is redone unless --resume skipped it
  if (!e.protocol.empty()) g.protocol = e.protocol;
  try {
    generate_plan(g);
    return true;
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  std::ofstream f(failed);
  f << nlohmann::json{{"id", e.id}, {"path", e.path}, {"error", error}}.dump(2) << "\n";
  return false;
}

}  // namespace

std::vector<CohortEntry> load_cohort(const std::string& manifest) {
  if (!fs::is_regular_file(manifest)) throw InputError(manifest, "cohort manifest not found");
  const std::string ext = fs::path(manifest).extension().string();
  std::vector<CohortEntry> entries = ext == ".json" ? parse_json(manifest) : parse_csv(manifest);
  const fs::path base = fs::absolute(manifest).parent_path();
  std::set<std::string> ids;
  for (CohortEntry& e : entries) {
    // An id becomes a folder name and a CSV cell: printable, no separators or quotes.
    std::string shown;
    for (unsigned char c : e.id) shown += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    if (e.id.empty()) throw InputError(manifest, "a patient has an empty id");
    if (e.id.size() > 128) throw InputError(manifest, "patient id '" + shown.substr(0, 40) + "...' is longer than 128 characters");
    for (unsigned char c : e.id)
      if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ',' || c == '"')
        throw InputError(manifest, "patient id '" + shown +
                                       "' holds a control character, '/', '\\', ',' or '\"' (not a folder name)");
    if (e.id[0] == '.') throw InputError(manifest, "patient id '" + e.id + "' is not a folder name");
    if (e.path.empty()) throw InputError(manifest, "patient '" + e.id + "' has no path");
    if (e.path.find('\0') != std::string::npos)
      throw InputError(manifest, "the path of patient '" + e.id + "' holds a NUL byte");
    if (!ids.insert(e.id).second) throw InputError(manifest, "patient id '" + e.id + "' appears twice");
    if (fs::path(e.path).is_relative()) e.path = (base / e.path).lexically_normal().string();
  }
  return entries;
}

Shard parse_shard(const std::string& text) {
  Shard s;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> s.index >> slash >> s.count) || slash != '/' || (in >> extra) || s.count < 1 ||
      s.index < 1 || s.index > s.count)
    throw UsageError("--shard: expected i/N with 1 <= i <= N (got '" + text + "')");
  return s;
}

std::vector<size_t> shard_positions(size_t size, const Shard& shard) {
  std::vector<size_t> p;
  for (size_t k = static_cast<size_t>(shard.index - 1); k < size; k += static_cast<size_t>(shard.count))
    p.push_back(k);
  return p;
}

bool is_finished_patient(const std::string& dir) {
  return fs::is_regular_file(dir + "/summary.json");
}

BatchResult run_batch_in(const BatchOptions& options, const std::vector<CohortEntry>& cohort,
                         const std::function<void(const std::string&)>& log);

BatchResult run_batch(const BatchOptions& options_in, const std::function<void(const std::string&)>& log) {
  if (options_in.jobs < 1) throw UsageError("--jobs must be at least 1");
  BatchOptions options = options_in;
  // "All cores" (threads <= 0) is shared out between parallel jobs.
  if (options.jobs > 1 && options.plan.threads <= 0)
    options.plan.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / options.jobs);
  if (options.out.empty()) throw UsageError("batch: no output folder given");
  const std::vector<CohortEntry> cohort = load_cohort(options.cohort);
  std::vector<std::pair<std::string, std::string>> inputs = {{"--cohort", options.cohort}};
  for (const CohortEntry& e : cohort) inputs.push_back({"patient '" + e.id + "'", e.path});
  check_output_separate("--out", options.out, inputs);
  check_output_writable(options.out, true, false);
  const bool created = !fs::exists(options.out);
  fs::create_directories(options.out);
  try {
    return run_batch_in(options, cohort, log);
  } catch (...) {
    // A batch that fails as a whole leaves no folder it made itself.
    std::error_code ec;
    if (created) fs::remove_all(options.out, ec);
    throw;
  }
}

BatchResult run_batch_in(const BatchOptions& options, const std::vector<CohortEntry>& cohort,
                         const std::function<void(const std::string&)>& log) {
  auto say = [&log](const std::string& s) { if (log) log(s); };

  BatchResult result;
  std::vector<const CohortEntry*> todo;
  for (size_t k : shard_positions(cohort.size(), options.shard)) {
    const CohortEntry& e = cohort[k];
    // With --training-set a folder without its training example is not finished.
    const std::string dir = options.out + "/" + e.id;
    if (options.resume &&
        (options.plan.training_export ? has_training_example(dir) : is_finished_patient(dir))) {
      ++result.skipped;
      say(e.id + ": finished earlier, skipped");
      continue;
    }
    todo.push_back(&e);
  }

  auto report = [&](const CohortEntry& e, bool ok, const std::string& error, double s) {
    ++result.planned;
    if (!ok) ++result.failed;
    char t[32];
    std::snprintf(t, sizeof t, "%.1f", s);
    say("[" + std::to_string(result.planned) + "/" + std::to_string(todo.size()) + "] " + e.id +
        (ok ? " done in " + std::string(t) + " s" : " FAILED: " + error));
  };

  using Clock = std::chrono::steady_clock;
  if (options.jobs == 1) {
    for (const CohortEntry* e : todo) {
      const auto t0 = Clock::now();
      std::string error;
      const bool ok = plan_patient(options, *e, error);
      report(*e, ok, error, std::chrono::duration<double>(Clock::now() - t0).count());
    }
  } else {
    // One process per patient: a crash or a runaway allocation stays with its patient.
    std::map<pid_t, std::pair<const CohortEntry*, Clock::time_point>> running;
    size_t next = 0;
    while (next < todo.size() || !running.empty()) {
      while (next < todo.size() && static_cast<int>(running.size()) < options.jobs) {
        std::fflush(nullptr);
        const pid_t pid = fork();
        if (pid < 0) throw ProcessingError("batch: fork failed");
        if (pid == 0) {
          // A killed batch takes its workers with it, so a resumed run never races them;
          // SIGTERM lets each worker remove its unfinished stage first.
          prctl(PR_SET_PDEATHSIG, SIGTERM);
          std::string error;
          _exit(plan_patient(options, *todo[next], error) ? 0 : 1);  // no atexit handlers
        }
        running[pid] = {todo[next++], Clock::now()};
      }
      int status = 0;
      const pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) break;
      auto it = running.find(pid);
      if (it == running.end()) continue;
      const CohortEntry& e = *it->second.first;
      const double s = std::chrono::duration<double>(Clock::now() - it->second.second).count();
      running.erase(it);
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                      is_finished_patient(options.out + "/" + e.id);
      std::string error;
      const std::string failed = options.out + "/" + e.id + ".failed.json";
      if (!ok) {
        try {
          error = read_json_file(failed, "failure record").value("error", "unknown error");
        } catch (const Error&) {
          error = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                      : "exited with status " + std::to_string(WEXITSTATUS(status));
          std::ofstream f(failed);
          f << nlohmann::json{{"id", e.id}, {"path", e.path}, {"error", error}}.dump(2) << "\n";
        }
      }
      report(e, ok, error, s);
    }
  }
  result.summary = write_cohort_summary(options.out, cohort);
  if (options.plan.training_export) write_training_manifest(options.out, cohort);
  return result;
}

}  // namespace vmatplan
