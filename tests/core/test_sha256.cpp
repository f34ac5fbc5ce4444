// SHA-256 against the FIPS 180-4 / NIST example vectors and against `sha256sum`.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/sha256.h"

using namespace vmatplan;

TEST_CASE("SHA-256 of the NIST example messages", "[core][sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                   "klmnopqrlmnopqrsmnopqrstnopqrstu") ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  // One million 'a', fed in uneven pieces so the buffering is exercised.
  Sha256 h;
  const std::string piece(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, piece.size());
    h.update(piece.data(), n);
    left -= n;
  }
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 of a file agrees with sha256sum", "[core][sha256]") {
  const std::string dir = test::scratch_dir("sha256");
  const std::string path = dir + "/bytes.bin";
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += static_cast<char>((i * 7919) & 0xff);
  std::ofstream(path, std::ios::binary) << bytes;
  const std::string hex = sha256_file_hex(path);
  CHECK(hex == sha256_hex(bytes));
  CHECK_THROWS_AS(sha256_file_hex(dir + "/missing"), InputError);
  if (!test::have_program("sha256sum")) {
    WARN("skipped: sha256sum not found");
    return;
  }
  auto r = test::run_shell("sha256sum " + path);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.substr(0, 64) == hex);
}
