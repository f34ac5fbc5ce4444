#pragma once
// Typed errors. The library throws these with context and never prints or exits;
// the app maps them to exit codes (InputError/ProcessingError -> 1, UsageError -> 2).
#include <stdexcept>
#include <string>

namespace vmatplan {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file or folder that cannot be used. what() reads "PATH: PROBLEM" on one line.
class InputError : public Error {
 public:
  InputError(const std::string& path, const std::string& problem)
      : Error(path + ": " + problem), path_(path), problem_(problem) {}
  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

// Options that contradict each other or name something that does not exist.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A computation that cannot go on (e.g. a protocol structure missing from a patient).
class ProcessingError : public Error {
 public:
  using Error::Error;
};

}  // namespace vmatplan
