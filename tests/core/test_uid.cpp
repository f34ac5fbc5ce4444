#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "vmatplan/core/uid.h"

using namespace vmatplan;

TEST_CASE("UIDs are valid 2.25 UUID-derived UIDs (PS3.5 9.1, B.2)", "[core][uid]") {
  std::set<std::string> seen;
  for (int n = 0; n < 200; ++n) {
    std::string uid = make_uid();
    CHECK(uid.size() <= 64);
    CHECK(std::regex_match(uid, std::regex("2\\.25\\.[1-9][0-9]*")));
    seen.insert(uid);
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("seeded UIDs are reproducible and differ by salt", "[core][uid]") {
  CHECK(make_uid(7, "study") == make_uid(7, "study"));
  CHECK(make_uid(7, "study") != make_uid(7, "series"));
  CHECK(make_uid(7, "study") != make_uid(8, "study"));
}

TEST_CASE("content UIDs: the same text gives the same valid UID", "[core][uid]") {
  const std::string a = make_uid_from_content("patient A ct");
  CHECK(a == make_uid_from_content("patient A ct"));
  CHECK(a != make_uid_from_content("patient A ct."));
  CHECK(a.size() <= 64);
  CHECK(std::regex_match(a, std::regex("2\\.25\\.[1-9][0-9]*")));
}
