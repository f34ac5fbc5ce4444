#pragma once
// Writing a text file (reports, SVG, JSON dumps) with a one-line error that names the file.
#include <string>

namespace vmatplan {

// Creates or replaces path with text; InputError "PATH: cannot create file" or
// "PATH: write failed".
void write_text_file(const std::string& path, const std::string& text);

}  // namespace vmatplan
