#pragma once
// DICOM UIDs for data that has none (phantoms, NIfTI/matRad inputs).
#include <cstdint>
#include <string>

namespace vmatplan {

// A UID under the "2.25" root (a UUID as one decimal integer, DICOM PS3.5 B.2).
// Random unless a seed is given; the same seed and salt give the same UID so that
// seeded phantoms are reproducible file for file.
std::string make_uid();
std::string make_uid(uint64_t seed, const std::string& salt);
// A name-based UID: 128 bits of SHA-256(text) as a UUID (version 8, RFC 9562) under 2.25.
// The same text always gives the same UID: UIDs derived from an input's content.
std::string make_uid_from_content(const std::string& text);

}  // namespace vmatplan
