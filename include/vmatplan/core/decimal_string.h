#pragma once
// decimal_string: a double as a DICOM Decimal String value (PS3.5 6.2: at most 16
// characters), the shortest text that reads back as the same double, else the closest
// 16-character text.
//
//   decimal_string(20.0) == "20";  decimal_string(0.1) == "0.1";
//   decimal_string(-44.93604343728123) == "-44.936043437281"  (no 16-character text reads back)
#include <string>

namespace vmatplan {

// Plain notation where a round-tripping one fits ("20" rather than "2e+01"), then
// exponent notation, then the longest %g text of at most 16 characters. Non-finite
// values give what printf gives ("nan", "inf"), which is not a valid DS.
std::string decimal_string(double v);

}  // namespace vmatplan
