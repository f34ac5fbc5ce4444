// libFuzzer target: the RTSTRUCT reader (DCMTK) and the rasterization of its contours on a
// fixed CT grid, on arbitrary bytes. Anything but vmatplan::Error is a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input_file.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/rtstruct_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = vmatplan_fuzz::write_input(data, size, "RS.dcm");
  // 512 x 512 x 320 mm around the DICOM origin at 8 mm: holds the seeds' contours
  // (phantoms and the public samples lie within it) and keeps each mask at 160 kB.
  vmatplan::ImageGrid grid;
  grid.size = {64, 64, 40};
  grid.spacing_mm = {8.0, 8.0, 8.0};
  grid.origin_mm = {-256.0, -256.0, -160.0};
  vmatplan::DicomIdentity identity;
  std::vector<std::string> warnings;
  try {
    (void)vmatplan::read_rtstruct(path, grid, "", &identity, &warnings);
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
