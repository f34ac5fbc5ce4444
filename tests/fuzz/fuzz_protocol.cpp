// libFuzzer target: the protocol reader (configs/protocols/*.json: prescription, objectives,
// clinical goals) on arbitrary text. Anything but vmatplan::Error is a finding.
#include <cstdint>

#include "fuzz_input_file.h"
#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = vmatplan_fuzz::write_input(data, size, "protocol.json");
  try {
    const vmatplan::Protocol p = vmatplan::load_protocol(path);
    (void)p.roles();
    for (const auto& objective : p.objectives)
      (void)objective.ring.limit_gy(10.0, p.prescription.total_dose_gy);
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
