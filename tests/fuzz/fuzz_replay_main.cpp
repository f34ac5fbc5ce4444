// Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer, so the
// sanitizer build (GCC, VMATPLAN_SANITIZE) can run every committed seed and every crash
// kept as a regression input without a second, clang-built copy of the layers (`.ci/run`:
// FUZZ_DIR=build-asan scripts/fuzz.sh --replay). Arguments are files or folders (read in
// name order, not recursively); libFuzzer-style options ("-runs=0") are accepted and ignored.
// A finding aborts the process through ASan/UBSan; a clean run prints "DONE <n> inputs".
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void replay(const std::filesystem::path& file, int& count) {
  std::ifstream f(file, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "%s: cannot read fuzz input\n", file.c_str());
    std::exit(2);
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ++count;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  int count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    if (fs::is_directory(arg)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& p : files) replay(p, count);
    } else {
      replay(arg, count);
    }
  }
  std::printf("DONE %d inputs replayed\n", count);
  return 0;
}
