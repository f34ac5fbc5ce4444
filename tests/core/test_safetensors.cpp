#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/safetensors.h"

using namespace vmatplan;
using Catch::Matchers::Contains;

namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_byte_file(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

SafeTensorsFile sample() {
  SafeTensorsFile f;
  f.metadata["format"] = "test";
  f.metadata["note"] = "values \"quoted\"";
  f.add_f32("weights", {2, 3}, {1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f});
  f.add_i32("counts", {4}, {1, -2, 2147483647, -2147483647 - 1});
  f.add_f64("pi", {}, {3.141592653589793});
  f.add_u8("mask", {2, 2}, {0, 1, 255, 7});
  f.add_i64("big", {1}, {int64_t{1} << 40});
  f.add_f32("empty", {0, 5}, {});
  return f;
}

}  // namespace

TEST_CASE("safetensors round trip is exact", "[core][safetensors]") {
  auto dir = test::scratch_dir("safetensors_rt");
  SafeTensorsFile f = sample();
  write_safetensors(f, dir + "/a.safetensors");
  SafeTensorsFile g = read_safetensors(dir + "/a.safetensors");
  CHECK(g.metadata == f.metadata);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    INFO(name);
    const SafeTensor& u = g.get(name);
    CHECK(u.dtype == t.dtype);
    CHECK(u.shape == t.shape);
    CHECK(u.bytes == t.bytes);
  }
  CHECK(g.get("weights").as<float>() == std::vector<float>{1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f});
  CHECK(g.get("pi").as<double>()[0] == 3.141592653589793);
  CHECK(g.get("pi").element_count() == 1);
  CHECK(g.get("empty").element_count() == 0);
  CHECK(g.get("big").as<int64_t>()[0] == int64_t{1} << 40);
  CHECK_THROWS_AS(g.get("weights").as<double>(), ProcessingError);
  CHECK_THROWS_AS(g.get("absent"), ProcessingError);
}

TEST_CASE("safetensors layout follows the format", "[core][safetensors]") {
  auto dir = test::scratch_dir("safetensors_layout");
  write_safetensors(sample(), dir + "/a.safetensors");
  auto b = file_bytes(dir + "/a.safetensors");
  REQUIRE(b.size() > 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(b[i]) << (8 * i);
  CHECK(n % 8 == 0);  // header padded to 8-byte alignment
  std::string header(b.begin() + 8, b.begin() + 8 + n);
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.find_last_of('}'));
  auto j = nlohmann::json::parse(header);
  CHECK(j["__metadata__"]["format"] == "test");
  CHECK(j["weights"]["dtype"] == "F32");
  CHECK(j["weights"]["shape"] == nlohmann::json::array({2, 3}));
  auto off = j["weights"]["data_offsets"];
  float first;
  std::memcpy(&first, b.data() + 8 + n + off[0].get<size_t>(), 4);
  CHECK(first == 1.5f);
}

TEST_CASE("python3 reads the safetensors file with json + struct only", "[core][safetensors]") {
  if (!test::have_program("/usr/bin/python3")) {
    VMATPLAN_TEST_WARN("skipped: /usr/bin/python3 not found");
    return;
  }
  auto dir = test::scratch_dir("safetensors_py");
  write_safetensors(sample(), dir + "/a.safetensors");
  const std::string script = dir + "/read.py";
  std::ofstream(script) << R"(import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
fmt = {"F32": "f", "F64": "d", "I32": "i", "I64": "q", "U8": "B", "I16": "h"}
t = header["weights"]
b, e = t["data_offsets"]
vals = struct.unpack("<%d%s" % ((e - b) // 4, fmt[t["dtype"]]), data[b:e])
c = header["counts"]
counts = struct.unpack("<4i", data[c["data_offsets"][0]:c["data_offsets"][1]])
print(header["__metadata__"]["format"], t["shape"], repr(vals[0]), repr(vals[1]), counts[2], counts[3])
)";
  auto r = test::run_shell("/usr/bin/python3 " + script + " " + dir + "/a.safetensors");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "test [2, 3] 1.5 -2.25 2147483647 -2147483648\n");
}

TEST_CASE("corrupt safetensors files are input errors naming the file", "[core][safetensors]") {
  auto dir = test::scratch_dir("safetensors_bad");
  const std::string good = dir + "/good.safetensors", bad = dir + "/bad.safetensors";
  write_safetensors(sample(), good);
  auto b = file_bytes(good);

  SECTION("truncated data") {
    b.resize(b.size() - 3);
    write_byte_file(bad, b);
    CHECK_THROWS_WITH(read_safetensors(bad), Contains("bad.safetensors"));
  }
  SECTION("header length beyond the file") {
    b[6] = 1;
    write_byte_file(bad, b);
    CHECK_THROWS_WITH(read_safetensors(bad), Contains("bad.safetensors") && Contains("header size"));
  }
  SECTION("too short") {
    write_byte_file(bad, {1, 2, 3});
    CHECK_THROWS_AS(read_safetensors(bad), InputError);
  }
  SECTION("not JSON") {
    b[8] = 'x';
    write_byte_file(bad, b);
    CHECK_THROWS_WITH(read_safetensors(bad), Contains("JSON"));
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(read_safetensors(dir + "/absent.safetensors"), InputError);
  }
  // Issue 14: the shape product overflowed int64 (undefined behaviour) and [2^62, 21, 21]
  // with no data was accepted.
  for (const std::string shape : {"[4611686018427387904,21,21]", "[18446744073709551615]",
                                  "[4294967296,4294967296]", "[3037000500,3037000500,4]"}) {
    std::string text = "{\"t\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,0]}}";
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<uint8_t> raw(8, 0);
    for (int i = 0; i < 8; ++i) raw[i] = static_cast<uint8_t>((text.size() >> (8 * i)) & 0xff);
    raw.insert(raw.end(), text.begin(), text.end());
    write_byte_file(bad, raw);
    INFO(shape);
    CHECK_THROWS_WITH(read_safetensors(bad), Contains("bad.safetensors") && Contains("more bytes than the file holds"));
  }
}

TEST_CASE("adding a tensor whose shape does not match its values is refused", "[core][safetensors]") {
  SafeTensorsFile f;
  CHECK_THROWS_AS(f.add_f32("x", {2, 2}, {1, 2, 3}), UsageError);
  CHECK_THROWS_AS(f.add_i32("__metadata__", {1}, {1}), UsageError);
}
