#include "vmatplan/core/decimal_string.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vmatplan {
namespace {

// The fewest significant digits of any decimal that reads back as v (to_chars' shortest
// round trip, Ryu); 0 when unknown.
int shortest_round_trip_digits(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (r.ec != std::errc()) return 0;
  int digits = 0;
  for (const char* c = buf; c != r.ptr && *c != 'e'; ++c) digits += (*c >= '0' && *c <= '9');
  return digits;
}

}  // namespace

// The search below writes the same text as trying every precision p = 1..17 with
// printf("%.*g") and strtod, but skips the tries that cannot succeed: a text of fewer
// than `shortest` significant digits never reads back as v, and a text that reads back
// has at least `shortest` digits (else dropping its trailing zeros would be shorter).
// A plan's 40 000 leaf positions otherwise cost about 60 printf/strtod calls each.
std::string decimal_string(double v) {
  if (v == 0.0 || std::abs(v) < 1e-300) return "0";
  char buf[64];
  const int shortest = std::isfinite(v) ? shortest_round_trip_digits(v) : 0;
  // A non-integer below 2^52 needs a decimal point in any text that reads back: its
  // shortest text is at least shortest + 1 characters (+ 1 for the sign). Past 16, no
  // text fits and only the closest 16-character text below remains.
  const bool fraction = std::isfinite(v) && std::abs(v) < 4503599627370496.0 && v != std::trunc(v);
  const bool none_fits = shortest > 0 && fraction && shortest + 1 + (v < 0 ? 1 : 0) > 16;
  // With at most 11 digits and |v| in (1e-99, 1e99), every shorter precision (at most 10
  // digits, plus sign, "0.000" or ".e+XX") gives at most 16 characters: none of them
  // ends the search, and none reads back.
  const bool skip_shorter = shortest > 0 && shortest <= 11 && std::abs(v) > 1e-99 && std::abs(v) < 1e99;
  if (!none_fits)
    for (bool allow_exponent : {false, true})  // "20" rather than "2e+01" where both fit
      for (int p = skip_shorter ? shortest : 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, v);
        if (std::strlen(buf) > 16) break;
        if (!allow_exponent && std::strchr(buf, 'e')) continue;
        if (p < shortest) continue;  // formatted only for the length rule above
        if (std::strtod(buf, nullptr) == v) return buf;
      }
  for (int p = 16; p >= 1; --p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strlen(buf) <= 16) return buf;
  }
  return "0";
}

}  // namespace vmatplan
