// vmatplan: the command users run. It starts the program proper (vmatplan-app, in the same
// folder) with glibc's malloc settings in its environment (core/malloc_tunables.h): glibc
// reads them only when a process starts, before any of the program's own code runs, and the
// program's libraries (LibTorch, ITK, DCMTK) allocate most of their start-up memory before
// main. exec replaces this process: the same process id, arguments, signals and exit code.
// No other dependency, so it starts in about a millisecond.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "vmatplan/core/malloc_tunables.h"

namespace {

// The folder of this executable, with its '/': where /proc/self/exe leads (symbolic links
// resolved, so a link on the PATH finds the real folder), else argv[0]'s folder when it
// names one (no /proc), else "" (the current folder).
std::string own_folder(const char* argv0) {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  const std::string exe = n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string(argv0 ? argv0 : "");
  return exe.substr(0, exe.rfind('/') + 1);
}

}  // namespace

int main(int, char** argv) {
  const std::string program = own_folder(argv[0]) + "vmatplan-app";
  const std::string tunables = vmatplan::with_malloc_tunables(std::getenv("GLIBC_TUNABLES"));
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) {
    std::fprintf(stderr, "vmatplan: cannot set GLIBC_TUNABLES: %s\n", std::strerror(errno));
    return 1;
  }
  execv(program.c_str(), argv);
  std::fprintf(stderr, "vmatplan: %s: cannot start the program: %s\n", program.c_str(), std::strerror(errno));
  return 1;
}
