// libFuzzer target: the machine config reader (configs/machines/*.json: MLC, jaws, delivery
// limits, beam data) on arbitrary text. Anything but vmatplan::Error is a finding.
#include <cstdint>

#include "fuzz_input_file.h"
#include "vmatplan/core/error.h"
#include "vmatplan/machine/machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = vmatplan_fuzz::write_input(data, size, "machine.json");
  try {
    const vmatplan::Machine m = vmatplan::Machine::load(path);
    (void)m.answers_to("GEN6MV_MLC120");
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
