#pragma once
// The readers under test take file paths: each fuzz input is written to a file of this
// process's own (one per process, so parallel fuzzing jobs do not share it).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace vmatplan_fuzz {

// Writes data to /tmp/vmatplan_fuzz_<pid>_<name> and returns that path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = "/tmp/vmatplan_fuzz_" + std::to_string(getpid()) + "_" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace vmatplan_fuzz
