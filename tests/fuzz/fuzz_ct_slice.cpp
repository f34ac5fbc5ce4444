// libFuzzer target: the DICOM CT series reader (DCMTK; folder scan, slice headers, slice
// geometry, pixel data, resampling) on arbitrary bytes. The input holds the slices of one
// folder separated by kSliceSeparator (a seed of two slices is "slice 1, separator,
// slice 2"), so mutations reach the checks across slices and the pixel reading, which a
// single slice never gets to. Anything but vmatplan::Error is a finding.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "vmatplan/core/error.h"
#include "vmatplan/io/dicom_ct_reader.h"

namespace {
constexpr std::string_view kSliceSeparator = "\n--vmatplan-fuzz-next-slice--\n";
constexpr int kMaxSlices = 4;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = "/tmp/vmatplan_fuzz_" + std::to_string(getpid()) + "_ct";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t begin = 0;
  for (int slice = 1; slice <= kMaxSlices && begin <= input.size(); ++slice) {
    size_t end = input.find(kSliceSeparator, begin);
    if (end == std::string_view::npos || slice == kMaxSlices) end = input.size();
    std::ofstream f(dir / ("CT_" + std::to_string(slice) + ".dcm"), std::ios::binary);
    f.write(input.data() + begin, static_cast<std::streamsize>(end - begin));
    begin = end + kSliceSeparator.size();
  }
  vmatplan::CtReadOptions options;
  options.resample_nonuniform = true;  // reaches the resampling path too
  vmatplan::DicomIdentity identity;
  std::vector<std::string> warnings;
  try {
    (void)vmatplan::read_ct_series(dir.string(), options, &identity, &warnings);
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
