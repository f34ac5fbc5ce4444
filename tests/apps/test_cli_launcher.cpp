// The `vmatplan` launcher (apps/launcher/main.cpp): it runs vmatplan-app from its own folder
// with the malloc tunables added to GLIBC_TUNABLES, passing arguments and exit code through.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace fs = std::filesystem;
using namespace vmatplan;

TEST_CASE("the launcher runs vmatplan-app with the malloc tunables", "[cli]") {
  const fs::path dir = test::scratch_dir("launcher");
  fs::copy_file(VMATPLAN_CLI_PATH, dir / "vmatplan");
  // A stand-in program that shows what it was given.
  {
    std::ofstream app(dir / "vmatplan-app");
    app << "#!/bin/sh\necho \"$GLIBC_TUNABLES\"\nfor a in \"$@\"; do echo \"[$a]\"; done\nexit 7\n";
  }
  fs::permissions(dir / "vmatplan-app", fs::perms::owner_all);
  const std::string launcher = "'" + (dir / "vmatplan").string() + "'";

  auto r = test::run_shell("env -u GLIBC_TUNABLES " + launcher + " generate 'a b'");
  CHECK(r.exit_code == 7);
  CHECK(r.out == "glibc.malloc.hugetlb=1\n[generate]\n[a b]\n");

  r = test::run_shell("GLIBC_TUNABLES=glibc.malloc.arena_max=2 " + launcher + " --version");
  CHECK(r.exit_code == 7);
  CHECK(r.out == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1\n[--version]\n");

  // Without the program beside it: one line naming the file, exit code 1.
  fs::remove(dir / "vmatplan-app");
  r = test::run_shell(launcher + " --version");
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(test::count_occurrences(r.err, "\n") == 1);
  CHECK(r.err.find((dir / "vmatplan-app").string()) != std::string::npos);
}

TEST_CASE("the installed pair starts the real program", "[cli]") {
  const auto r = test::run_cli("--version");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("vmatplan ") == 0);
}
