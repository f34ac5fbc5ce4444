#pragma once
// Structure names as file names (mask exports, image-folder patients).
#include <string>

namespace vmatplan {

// Characters that file systems refuse (or shells dislike) become '_'; an empty, "." or
// ".." name becomes "structure". Not injective: callers add "_2", "_3" on collisions.
std::string safe_file_stem(const std::string& name);

}  // namespace vmatplan
