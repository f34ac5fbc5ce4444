#include "vmatplan/core/uid.h"

#include <random>

#include "vmatplan/core/sha256.h"

namespace vmatplan {
namespace {

// 128-bit unsigned as two 64-bit halves, printed in decimal by repeated division.
std::string to_decimal(uint64_t hi, uint64_t lo) {
  std::string digits;
  while (hi != 0 || lo != 0) {
    // Divide the 128-bit number by 10 using 32-bit limbs.
    uint64_t limbs[4] = {hi >> 32, hi & 0xffffffffu, lo >> 32, lo & 0xffffffffu};
    uint64_t rem = 0;
    for (auto& limb : limbs) {
      uint64_t cur = (rem << 32) | limb;
      limb = cur / 10;
      rem = cur % 10;
    }
    hi = (limbs[0] << 32) | limbs[1];
    lo = (limbs[2] << 32) | limbs[3];
    digits.insert(digits.begin(), static_cast<char>('0' + rem));
  }
  return digits.empty() ? "0" : digits;
}

std::string uid_from(std::mt19937_64& rng) {
  uint64_t hi = rng(), lo = rng();
  // Version-4 UUID bits, so the number is a valid UUID (ITU-T X.667).
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return "2.25." + to_decimal(hi, lo);
}

}  // namespace

std::string make_uid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return uid_from(rng);
}

std::string make_uid_from_content(const std::string& text) {
  const std::string hex = sha256_hex(text);
  uint64_t hi = std::stoull(hex.substr(0, 16), nullptr, 16);
  uint64_t lo = std::stoull(hex.substr(16, 16), nullptr, 16);
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000008000ULL;  // version 8
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC variant
  return "2.25." + to_decimal(hi, lo);
}

std::string make_uid(uint64_t seed, const std::string& salt) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a of the salt, mixed with the seed
  for (unsigned char c : salt) h = (h ^ c) * 1099511628211ULL;
  std::mt19937_64 rng(seed ^ h);
  return uid_from(rng);
}

}  // namespace vmatplan
