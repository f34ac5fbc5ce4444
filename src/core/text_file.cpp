#include "vmatplan/core/text_file.h"

#include <fstream>

#include "vmatplan/core/error.h"

namespace vmatplan {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path, "cannot create file");
  out << text;
  out.close();
  if (!out) throw InputError(path, "write failed");
}

}  // namespace vmatplan
