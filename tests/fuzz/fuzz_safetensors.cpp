// libFuzzer target: the safetensors reader (plan files, training examples) on arbitrary
// bytes. Any exception other than vmatplan::Error, a crash or a sanitizer report is a finding.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "vmatplan/core/error.h"
#include "vmatplan/core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/vmatplan_fuzz_" + std::to_string(getpid()) + ".safetensors";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    vmatplan::SafeTensorsFile st = vmatplan::read_safetensors(path);
    for (const auto& [name, t] : st.tensors) (void)t.element_count();
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
