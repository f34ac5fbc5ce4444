#pragma once
// SHA-256 (FIPS 180-4) of bytes or a file, as lowercase hex: checksums of training files
// and model weights in their manifests (the same digest as `sha256sum`).
//
//   Sha256 h;  h.update(data, n);  std::string hex = h.hex_digest();
//   std::string hex = sha256_file_hex("out/P1/training.safetensors");
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vmatplan {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hex_digest();  // finishes the hash; call once

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const std::string& bytes);
// InputError naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace vmatplan
