#include "vmatplan/core/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "vmatplan/core/error.h"

// Tensor bytes are copied as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace vmatplan {
namespace {

// A header larger than this is corrupt, not a real file (the reference implementation
// refuses headers over 100 MB as well).
constexpr uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;

template <class T> struct DtypeOf;
template <> struct DtypeOf<float> { static constexpr const char* name = "F32"; };
template <> struct DtypeOf<double> { static constexpr const char* name = "F64"; };
template <> struct DtypeOf<int32_t> { static constexpr const char* name = "I32"; };
template <> struct DtypeOf<int64_t> { static constexpr const char* name = "I64"; };
template <> struct DtypeOf<uint8_t> { static constexpr const char* name = "U8"; };
template <> struct DtypeOf<int16_t> { static constexpr const char* name = "I16"; };

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

template <class T>
void add_tensor(SafeTensorsFile& f, const std::string& name, std::vector<int64_t> shape,
                const std::vector<T>& v) {
  for (int64_t d : shape)
    if (d < 0) throw UsageError("safetensors: tensor '" + name + "' has a negative dimension");
  if (product(shape) != static_cast<int64_t>(v.size()))
    throw UsageError("safetensors: tensor '" + name + "' has " + std::to_string(v.size()) +
                     " values but its shape holds " + std::to_string(product(shape)));
  if (name.empty() || name == "__metadata__")
    throw UsageError("safetensors: '" + name + "' is not a valid tensor name");
  SafeTensor t;
  t.dtype = DtypeOf<T>::name;
  t.shape = std::move(shape);
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  f.tensors[name] = std::move(t);
}

}  // namespace

int safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "I16") return 2;
  if (dtype == "U8") return 1;
  return 0;
}

int64_t SafeTensor::element_count() const { return product(shape); }

template <class T>
std::vector<T> SafeTensor::as() const {
  if (dtype != DtypeOf<T>::name)
    throw ProcessingError("safetensors: a " + dtype + " tensor read as " + DtypeOf<T>::name);
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> SafeTensor::as<float>() const;
template std::vector<double> SafeTensor::as<double>() const;
template std::vector<int32_t> SafeTensor::as<int32_t>() const;
template std::vector<int64_t> SafeTensor::as<int64_t>() const;
template std::vector<uint8_t> SafeTensor::as<uint8_t>() const;
template std::vector<int16_t> SafeTensor::as<int16_t>() const;

void SafeTensorsFile::add_f32(const std::string& n, std::vector<int64_t> s, const std::vector<float>& v) { add_tensor(*this, n, std::move(s), v); }
void SafeTensorsFile::add_i32(const std::string& n, std::vector<int64_t> s, const std::vector<int32_t>& v) { add_tensor(*this, n, std::move(s), v); }
void SafeTensorsFile::add_f64(const std::string& n, std::vector<int64_t> s, const std::vector<double>& v) { add_tensor(*this, n, std::move(s), v); }
void SafeTensorsFile::add_i64(const std::string& n, std::vector<int64_t> s, const std::vector<int64_t>& v) { add_tensor(*this, n, std::move(s), v); }
void SafeTensorsFile::add_u8(const std::string& n, std::vector<int64_t> s, const std::vector<uint8_t>& v) { add_tensor(*this, n, std::move(s), v); }

const SafeTensor& SafeTensorsFile::get(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw ProcessingError("safetensors: no tensor named '" + name + "'");
  return it->second;
}

void write_safetensors(const SafeTensorsFile& file, const std::string& path) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  // std::map iterates by name, so the data follow in name order without gaps, as the
  // format's validation (contiguous, fully covered buffer) requires.
  for (const auto& [name, t] : file.tensors) {
    int size = safetensors_dtype_size(t.dtype);
    if (size == 0) throw UsageError("safetensors: unsupported dtype '" + t.dtype + "'");
    if (static_cast<int64_t>(t.bytes.size()) != t.element_count() * size)
      throw UsageError("safetensors: tensor '" + name + "' byte count does not match its shape");
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad with spaces to 8-byte alignment
  uint64_t n = text.size();
  unsigned char size_le[8];
  for (int i = 0; i < 8; ++i) size_le[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path, "cannot open for writing");
  out.write(reinterpret_cast<const char*>(size_le), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, t] : file.tensors)
    out.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
  out.close();
  if (!out) throw InputError(path, "write failed (disk full?)");
}

SafeTensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open safetensors file");
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(path, "cannot read size: " + ec.message());
  unsigned char size_le[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_le), 8))
    throw InputError(path, "too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(size_le[i]) << (8 * i);
  if (n > kMaxHeaderBytes || n > file_size - 8)
    throw InputError(path, "safetensors header size " + std::to_string(n) + " is invalid");
  std::string text(n, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n)))
    throw InputError(path, "truncated safetensors header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw InputError(path, "safetensors header is not a JSON object");

  const uint64_t data_size = file_size - 8 - n;
  std::vector<uint8_t> data(data_size);
  if (data_size && !in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data_size)))
    throw InputError(path, "truncated safetensors data");

  SafeTensorsFile f;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw InputError(path, "__metadata__ value '" + m.key() + "' is not a string");
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor '" + name + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw InputError(path, what + "needs dtype, shape and data_offsets");
    SafeTensor t;
    if (!v["dtype"].is_string()) throw InputError(path, what + "dtype is not a string");
    t.dtype = v["dtype"].get<std::string>();
    int size = safetensors_dtype_size(t.dtype);
    if (size == 0) throw InputError(path, what + "unsupported dtype " + t.dtype);
    if (!v["shape"].is_array()) throw InputError(path, what + "shape is not an array");
    // Byte count = product of the dimensions * dtype size, computed without overflow: a
    // shape such as [2^62, 21, 21] must be refused, not wrapped around.
    uint64_t byte_count = static_cast<uint64_t>(size);
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw InputError(path, what + "shape has a bad dimension");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(byte_count, dim, &byte_count) ||
          byte_count > data_size)
        throw InputError(path, what + "shape " + v["shape"].dump() + " needs more bytes than the file holds");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw InputError(path, what + "data_offsets is not [begin, end]");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size) throw InputError(path, what + "data_offsets outside the data");
    if (e - b != byte_count)
      throw InputError(path, what + "data size does not match shape and dtype");
    t.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(b),
                   data.begin() + static_cast<std::ptrdiff_t>(e));
    spans.emplace_back(b, e);
    f.tensors[name] = std::move(t);
  }
  // The data must be covered exactly once, without holes (as the reference reader checks).
  std::sort(spans.begin(), spans.end());
  uint64_t expect = 0;
  for (const auto& [b, e] : spans) {
    if (b != expect) throw InputError(path, "safetensors data has overlapping or missing bytes");
    expect = e;
  }
  if (expect != data_size) throw InputError(path, "safetensors data has trailing bytes");
  return f;
}

}  // namespace vmatplan
