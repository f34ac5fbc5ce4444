#pragma once
// StagedOutput: build an output file or folder under a temporary name beside it and
// rename it into place only when everything succeeded, so that a failure never leaves a
// partial result (the destructor removes an uncommitted stage).
//
//   StagedOutput out("/path/OUT");             // creates /path/.OUT.partial-XXXX/
//   write_things(out.path());                  // may throw
//   out.commit();                              // rename to /path/OUT
#include <string>

namespace vmatplan {

class StagedOutput {
 public:
  enum class Kind { kDirectory, kFile };
  // kDirectory creates the stage folder; kFile only reserves the temporary name.
  // With overwrite=false, an existing final path is an InputError.
  explicit StagedOutput(std::string final_path, Kind kind = Kind::kDirectory,
                        bool overwrite = true);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  const std::string& path() const { return stage_path_; }      // write here
  const std::string& final_path() const { return final_path_; }
  void commit();  // replaces an existing final path

 private:
  std::string final_path_;
  std::string stage_path_;
  Kind kind_;
  bool committed_ = false;
};

// Removes the stages of `final_path` that a killed process left behind (siblings named
// ".NAME.partial-*"). Only for a caller that knows no other process is writing NAME.
void remove_stale_stages(const std::string& final_path);

}  // namespace vmatplan
