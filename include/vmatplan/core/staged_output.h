#pragma once
// StagedOutput: build an output file or folder under a temporary name beside it and
// rename it into place only when everything succeeded, so that a failure never leaves a
// partial result (the destructor removes an uncommitted stage).
//
//   StagedOutput out("/path/OUT");             // creates /path/.OUT.partial-XXXX/
//   write_things(out.path());                  // may throw
//   out.commit();                              // rename to /path/OUT
//
// Creating the stage is also the up-front writability check: construct the StagedOutput
// before any heavy work, so that an unwritable OUT fails in milliseconds.
//
// Without `overwrite`, commit() never replaces anything: the rename is atomic and refuses an
// OUT that another run created meanwhile (renameat2 RENAME_NOREPLACE), so two concurrent
// runs to the same OUT cannot replace each other; the second fails with an InputError.
//
// Every live stage is registered; install_stage_cleanup_on_signals() makes SIGINT, SIGTERM
// and SIGHUP remove the registered stages and exit with 128 + the signal (130, 143, 129).
#include <string>
#include <vector>

namespace vmatplan {

class StagedOutput {
 public:
  enum class Kind { kDirectory, kFile };
  // kDirectory creates the stage folder; kFile creates an empty stage file (write over it).
  // With overwrite=false, an existing final path is an InputError.
  explicit StagedOutput(std::string final_path, Kind kind = Kind::kDirectory,
                        bool overwrite = true);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  const std::string& path() const { return stage_path_; }      // write here
  const std::string& final_path() const { return final_path_; }
  // Moves the stage to the final path; replaces an existing one only with overwrite=true.
  void commit();

 private:
  std::string final_path_;
  std::string stage_path_;
  Kind kind_;
  bool overwrite_ = true;
  bool committed_ = false;
  int slot_ = -1;  // signal-cleanup registry slot
};

// Removes the stages of `final_path` that a killed process left behind (siblings named
// ".NAME.partial-*"). Only for a caller that knows no other process is writing NAME.
void remove_stale_stages(const std::string& final_path);

// SIGINT / SIGTERM / SIGHUP: remove every registered stage (async-signal-safe), then exit
// with 128 + signal. Call once from main(). A signal ignored when the process started
// (nohup, a background job of a script) stays ignored.
void install_stage_cleanup_on_signals();

// Registers an extra temporary path (file or folder) for removal on a signal, e.g. a
// file written beside a stage; unregister it when it is gone. Returns a slot or -1.
int register_temporary_path(const std::string& path);
void unregister_temporary_path(int slot);

// Up-front check, before any heavy work, leaving nothing on disk: `out` must not exist
// unless `overwrite`, must not be a folder where a file is expected, and its nearest
// existing parent folder must be writable (probed with a file removed at once). InputError
// naming `out`.
void check_output_writable(const std::string& out, bool overwrite, bool is_file);

// Refuses an output that would destroy or pollute an input: `out` equal to an input, an
// ancestor of one (replacing OUT deletes it), or inside an input folder (writing there
// changes the input). UsageError naming both flags, e.g.
// "--out: /a/p/report lies inside --patient /a/p". `inputs` pairs a flag with its path;
// empty paths are skipped.
void check_output_separate(const std::string& out_flag, const std::string& out,
                           const std::vector<std::pair<std::string, std::string>>& inputs);

}  // namespace vmatplan
