// libFuzzer target: the RT Plan reader (DCMTK) and the semantic RT Plan checks of `check`
// on arbitrary bytes. Anything but vmatplan::Error is a finding.
#include <cstdint>

#include "fuzz_input_file.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/rtplan_reader.h"
#include "vmatplan/io/rtplan_validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = vmatplan_fuzz::write_input(data, size, "RP.dcm");
  try {
    (void)vmatplan::validate_rtplan_file(path);
  } catch (const vmatplan::Error&) {
  }
  try {
    const vmatplan::DeliveryPlan p = vmatplan::read_rtplan(path);
    (void)p.total_mu_per_fraction();
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
