// decimal_string: the same text as the plain search over every precision (the reference
// below, the RT writers' formatting before it was made faster) for the values plans hold.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "vmatplan/core/decimal_string.h"

using namespace vmatplan;

namespace {

std::string reference_decimal_string(double v) {
  if (v == 0.0 || std::abs(v) < 1e-300) return "0";
  char buf[64];
  for (bool allow_exponent : {false, true})
    for (int p = 1; p <= 17; ++p) {
      std::snprintf(buf, sizeof buf, "%.*g", p, v);
      if (std::strlen(buf) > 16) break;
      if (!allow_exponent && std::strchr(buf, 'e')) continue;
      if (std::strtod(buf, nullptr) == v) return buf;
    }
  for (int p = 16; p >= 1; --p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strlen(buf) <= 16) return buf;
  }
  return "0";
}

}  // namespace

TEST_CASE("decimal_string: worked examples", "[core][decimal_string]") {
  CHECK(decimal_string(0.0) == "0");
  CHECK(decimal_string(-0.0) == "0");
  CHECK(decimal_string(20.0) == "20");
  CHECK(decimal_string(0.1) == "0.1");
  CHECK(decimal_string(-2.5) == "-2.5");
  CHECK(decimal_string(1e-7) == "1e-07");
  CHECK(decimal_string(123456789012345678.0) == "1.2345678901e+17");
  CHECK(decimal_string(-44.93604343728123) == "-44.936043437281");
  CHECK(decimal_string(1.0 / 3.0) == "0.33333333333333");
  for (const std::string& s : {decimal_string(-44.93604343728123), decimal_string(1.0 / 3.0),
                               decimal_string(6.02214076e23), decimal_string(-1.0 / 7e-5)})
    CHECK(s.size() <= 16);
}

TEST_CASE("decimal_string: same text as trying every precision", "[core][decimal_string]") {
  std::vector<double> values = {1.0, -1.0, 0.5, 1e-300, 2e-300, -1e-299, 1e300, -1.7e308,
                                std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(),
                                4503599627370496.0, 4503599627370495.5, 9007199254740993.0,
                                999999999999999.9, 9999999999999998.0, 0.0001, 0.00012345678901,
                                0.000099999999999, 1e16, 1e15 + 0.5, 100, 360, 359.99999999999994,
                                std::nan(""), std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity()};
  std::mt19937_64 rng(20261207);
  std::uniform_real_distribution<double> mm(-200.0, 200.0);
  std::uniform_int_distribution<int> exponent(-320, 308), digits(1, 17);
  std::uniform_int_distribution<uint64_t> bits;
  for (int n = 0; n < 20000; ++n) {
    const double x = mm(rng);
    values.push_back(x);                                      // leaf and jaw positions (double)
    values.push_back(static_cast<float>(x));                  // float-valued doubles
    values.push_back(std::round(x * 100) / 100);              // short decimals
    values.push_back(std::round(x * 1e6) / 1e6 * std::pow(10.0, exponent(rng) / 10));
    char text[64];
    std::snprintf(text, sizeof text, "%.*e", digits(rng) - 1, x * std::pow(10.0, exponent(rng)));
    values.push_back(std::strtod(text, nullptr));            // 1-17 digits, any magnitude
    double any;
    const uint64_t b = bits(rng);
    std::memcpy(&any, &b, sizeof any);
    values.push_back(any);                                    // any bit pattern
  }
  int differ = 0;
  for (double v : values) {
    const std::string got = decimal_string(v), want = reference_decimal_string(v);
    if (got != want && ++differ <= 5) FAIL_CHECK(v << ": " << got << " != " << want);
  }
  CHECK(differ == 0);
}
