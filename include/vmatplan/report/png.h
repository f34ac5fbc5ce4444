#pragma once
// A minimal PNG writer (8-bit RGB, zlib deflate, no filtering) and base64, for the dose
// pictures of the report: no imaging library needed.
//
//   std::vector<uint8_t> png = encode_png_rgb(width, height, rgb);  // rgb: 3 bytes/pixel, rows top first
//   std::string uri = "data:image/png;base64," + base64_encode(png);
#include <cstdint>
#include <string>
#include <vector>

namespace vmatplan {

// ProcessingError when rgb.size() != 3 * width * height or zlib fails.
std::vector<uint8_t> encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);

std::string base64_encode(const std::vector<uint8_t>& bytes);

}  // namespace vmatplan
