#pragma once
// safetensors files (https://github.com/huggingface/safetensors, format spec in its README):
// an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}, "__metadata__": {str: str}}, then raw little-endian arrays. Readable from
// any LibTorch version and from Python without vmatplan.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vmatplan {

struct SafeTensor {
  std::string dtype = "F32";   // F32, F64, I32, I64, U8, I16
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian data
  int64_t element_count() const;
  template <class T>
  std::vector<T> as() const;   // copies; throws if sizeof(T) does not match the dtype
};

struct SafeTensorsFile {
  std::map<std::string, std::string> metadata;
  std::map<std::string, SafeTensor> tensors;

  void add_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
  void add_i32(const std::string& name, std::vector<int64_t> shape, const std::vector<int32_t>& v);
  void add_f64(const std::string& name, std::vector<int64_t> shape, const std::vector<double>& v);
  void add_i64(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v);
  void add_u8(const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& v);
  // Throws ProcessingError naming the missing tensor.
  const SafeTensor& get(const std::string& name) const;
};

// Bytes per element of a dtype name; 0 for names this library does not handle.
int safetensors_dtype_size(const std::string& dtype);

void write_safetensors(const SafeTensorsFile& file, const std::string& path);
SafeTensorsFile read_safetensors(const std::string& path);  // InputError on bad files

}  // namespace vmatplan
