// NIfTI / MetaImage / NRRD through ITK. ITK converts every format to LPS on reading and
// back on writing (NIfTI stores RAS; ITK flips the first two axes), so the grids here are
// LPS like the rest of vmatplan. Direction: ITK's matrix D(r, c) is LPS component r of
// index axis c, the same layout as ImageGrid::direction (row-major).
#include "vmatplan/io/image_io.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;

template <class T>
using ItkImage = itk::Image<T, 3>;

// ITK's messages span several lines ("itk::ExceptionObject (0x...)\nLocation: ...").
// Keep the description only, on one line.
std::string one_line(const itk::ExceptionObject& e) {
  std::string text = e.GetDescription() ? e.GetDescription() : "";
  if (text.empty()) text = e.what();
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out.empty() ? "ITK could not handle the file" : out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_image_extension(const std::string& path) {
  const std::string p = lower(path);
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e(ext);
    if (p.size() > e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

template <class T>
typename ItkImage<T>::Pointer to_itk(const ImageGrid& g, const std::vector<T>& voxels) {
  auto img = ItkImage<T>::New();
  typename ItkImage<T>::RegionType region;
  typename ItkImage<T>::SizeType size;
  typename ItkImage<T>::SpacingType spacing;
  typename ItkImage<T>::PointType origin;
  typename ItkImage<T>::DirectionType dir;
  for (unsigned a = 0; a < 3; ++a) {
    size[a] = static_cast<itk::SizeValueType>(g.size[a]);
    spacing[a] = g.spacing_mm[a];
    origin[a] = g.origin_mm[a];
    for (unsigned c = 0; c < 3; ++c) dir(a, c) = g.direction[a * 3 + c];
  }
  region.SetSize(size);
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  img->Allocate();
  // Both layouts are x fastest, then y, then z.
  std::copy(voxels.begin(), voxels.end(), img->GetBufferPointer());
  return img;
}

template <class T>
void write_itk(const ImageGrid& g, const std::vector<T>& voxels, const std::string& path) {
  if (!has_image_extension(path))
    throw InputError(path, "unsupported image extension (use .nii.gz, .nii, .mha, .mhd, .nrrd)");
  if (g.voxel_count() <= 0 || static_cast<int64_t>(voxels.size()) != g.voxel_count())
    throw ProcessingError(path + ": image to write is empty or does not match its grid");
  // niftilib only prints (and ITK does not throw) when it cannot open the output file.
  const fs::path parent = fs::absolute(path).parent_path();
  if (!fs::is_directory(parent)) throw InputError(path, "cannot write image: folder does not exist");
  try {
    auto writer = itk::ImageFileWriter<ItkImage<T>>::New();
    writer->SetFileName(path);
    writer->SetInput(to_itk(g, voxels));
    writer->SetUseCompression(true);  // .nii.gz must be gzip; MHA/NRRD compress too
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    throw InputError(path, "cannot write image: " + one_line(e));
  }
  if (!fs::is_regular_file(path) || fs::file_size(path) == 0)
    throw InputError(path, "cannot write image (no permission or disk full?)");
}

// ITK's NIfTI reader accepts a truncated or damaged .gz without a word (the missing voxels
// are left as they happen to be); zlib tells: read the stream to its end and check it.
void check_gzip_intact(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path, "cannot open");
  std::vector<char> buf(1 << 16);
  int n = 0;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
  }
  int err = Z_OK;
  const char* msg = n < 0 ? gzerror(f, &err) : nullptr;
  const int close = gzclose(f);
  if (n < 0 || close != Z_OK)
    throw InputError(path, std::string("truncated or damaged gzip data") + (msg && *msg ? std::string(" (") + msg + ")" : ""));
}

bool is_nifti(const std::string& path) {
  const std::string p = lower(path);
  auto ends_with = [&](const std::string& e) {
    return p.size() > e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0;
  };
  return ends_with(".nii") || ends_with(".nii.gz");
}

template <class T>
T field(const unsigned char* header, size_t offset, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, header + offset, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// The NIfTI header fields vmatplan looks at (NIfTI-1, sizeof_hdr 348 / NIfTI-2, 540): dim
// at 40 (int16[8]) / 16 (int64[8]), datatype at 70 / 12 (int16), vox_offset at 108 (float)
// / 168 (int64). gzopen reads uncompressed files as they are.
struct NiftiHeader {
  bool read = false;  // false: too short or not a NIfTI-1/2 header size (left to ITK)
  bool nifti2 = false, swap = false;
  int datatype = 0;
  std::array<int64_t, 8> dim{};
  double vox_offset = 0;
};

NiftiHeader read_nifti_header(gzFile f) {
  NiftiHeader n;
  unsigned char h[540] = {};
  const int got = gzread(f, h, sizeof(h));
  if (got < 348) return n;
  const int32_t size = field<int32_t>(h, 0, false), swapped = field<int32_t>(h, 0, true);
  n.nifti2 = size == 540 || swapped == 540;
  if (!(n.nifti2 || size == 348 || swapped == 348) || (n.nifti2 && got < 540)) return n;
  n.swap = size != (n.nifti2 ? 540 : 348);
  n.datatype = field<int16_t>(h, n.nifti2 ? 12 : 70, n.swap);
  for (int a = 0; a < 8; ++a)
    n.dim[a] = n.nifti2 ? field<int64_t>(h, 16 + 8 * a, n.swap) : field<int16_t>(h, 40 + 2 * a, n.swap);
  n.vox_offset = n.nifti2 ? static_cast<double>(field<int64_t>(h, 168, n.swap)) : field<float>(h, 108, n.swap);
  n.read = true;
  return n;
}

struct GzCloser {
  gzFile f;
  ~GzCloser() { gzclose(f); }
};

// Dimensions niftilib refuses with its own "** ERROR" line on stderr before ITK throws;
// refused here first, so that vmatplan's line is the only one.
void check_nifti_dimensions(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path, "cannot open");
  GzCloser close{f};
  const NiftiHeader n = read_nifti_header(f);
  if (!n.read) return;
  if (n.dim[0] < 1 || n.dim[0] > 7)
    throw InputError(path, "NIfTI header: dim[0] = " + std::to_string(n.dim[0]) + ", not a number of dimensions (1..7)");
  for (int a = 1; a <= n.dim[0]; ++a)
    if (n.dim[a] < 1)
      throw InputError(path, "NIfTI header: dim[" + std::to_string(a) + "] = " + std::to_string(n.dim[a]) +
                                 ", not a size");
}

// niftilib sets NaN and infinite float voxels to 0 while reading (nifti_read_buffer in
// nifti1_io.c), so the image ITK returns cannot show them: count them in the file itself.
// Only FLOAT32 (16) and FLOAT64 (64) voxels can be non-finite.
int64_t count_nonfinite_nifti_voxels(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path, "cannot open");
  GzCloser close{f};
  const NiftiHeader n = read_nifti_header(f);
  if (!n.read || (n.datatype != 16 && n.datatype != 64)) return 0;
  int64_t count = 1;
  for (int64_t a = 1; a <= std::clamp<int64_t>(n.dim[0], 0, 7); ++a) count *= std::max<int64_t>(1, n.dim[a]);
  if (!(n.vox_offset >= 0) || gzseek(f, static_cast<z_off_t>(n.vox_offset), SEEK_SET) < 0) return 0;
  const size_t bytes = n.datatype == 16 ? 4 : 8;
  std::vector<unsigned char> buf(bytes << 14);
  int64_t nonfinite = 0;
  while (count > 0) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(count, 1 << 14)) * bytes;
    const int got = gzread(f, buf.data(), static_cast<unsigned>(want));
    if (got <= 0) break;
    for (size_t p = 0; p + bytes <= static_cast<size_t>(got); p += bytes) {
      const double v = bytes == 4 ? field<float>(buf.data(), p, n.swap) : field<double>(buf.data(), p, n.swap);
      if (!std::isfinite(v)) ++nonfinite;
    }
    count -= got / static_cast<int64_t>(bytes);
  }
  return nonfinite;
}

// Reads any scalar pixel type as float (ITK converts on reading). Non-finite voxels are
// refused in every format: MetaImage and NRRD keep them, NIfTI's reader hides them.
Image3D<float> read_float(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path, "does not exist");
  if (fs::is_directory(path)) throw InputError(path, "is a folder, expected an image file");
  if (lower(path).size() > 3 && lower(path).compare(path.size() - 3, 3, ".gz") == 0) check_gzip_intact(path);
  if (is_nifti(path)) check_nifti_dimensions(path);
  using Reader = itk::ImageFileReader<ItkImage<float>>;
  ItkImage<float>::Pointer img;
  try {
    auto reader = Reader::New();
    reader->SetFileName(path);
    reader->Update();
    img = reader->GetOutput();
  } catch (const itk::ExceptionObject& e) {
    throw InputError(path, "cannot read image: " + one_line(e));
  }
  Image3D<float> out;
  const auto size = img->GetLargestPossibleRegion().GetSize();
  for (unsigned a = 0; a < 3; ++a) {
    out.grid.size[a] = static_cast<int64_t>(size[a]);
    out.grid.spacing_mm[a] = img->GetSpacing()[a];
    out.grid.origin_mm[a] = img->GetOrigin()[a];
    for (unsigned c = 0; c < 3; ++c) out.grid.direction[a * 3 + c] = img->GetDirection()(a, c);
  }
  if (out.grid.voxel_count() <= 0) throw InputError(path, "image has no voxels");
  for (unsigned a = 0; a < 3; ++a)
    if (!(out.grid.spacing_mm[a] > 0) || !std::isfinite(out.grid.spacing_mm[a]))
      throw InputError(path, "image spacing is not positive");
  const float* buf = img->GetBufferPointer();
  out.voxels.assign(buf, buf + out.grid.voxel_count());
  int64_t nonfinite = std::count_if(out.voxels.begin(), out.voxels.end(),
                                    [](float v) { return !std::isfinite(v); });
  if (nonfinite == 0 && is_nifti(path)) nonfinite = count_nonfinite_nifti_voxels(path);
  if (nonfinite > 0)
    throw InputError(path, std::to_string(nonfinite) + " voxel" + (nonfinite > 1 ? "s are" : " is") +
                               " not finite (NaN or infinite)");
  return out;
}

}  // namespace

CtImage read_image_float(const std::string& path) { return read_float(path); }

Mask read_mask(const std::string& path) {
  Image3D<float> f = read_float(path);
  Mask m;
  m.grid = f.grid;
  m.voxels.resize(f.voxels.size());
  std::transform(f.voxels.begin(), f.voxels.end(), m.voxels.begin(),
                 [](float v) { return static_cast<uint8_t>(v != 0.0f ? 1 : 0); });
  return m;
}

void write_image(const CtImage& image, const std::string& path) {
  write_itk(image.grid, image.voxels, path);
}

void write_ct_int16(const CtImage& image, const std::string& path) {
  std::vector<int16_t> hu(image.voxels.size());
  std::transform(image.voxels.begin(), image.voxels.end(), hu.begin(), [](float v) {
    if (std::isnan(v)) return int16_t(-1024);  // undefined voxels read as air
    const float r = std::round(std::clamp(v, -32768.0f, 32767.0f));
    return static_cast<int16_t>(r);
  });
  write_itk(image.grid, hu, path);
}

void write_mask(const Mask& mask, const std::string& path) {
  std::vector<uint8_t> v(mask.voxels.size());
  std::transform(mask.voxels.begin(), mask.voxels.end(), v.begin(),
                 [](uint8_t x) { return static_cast<uint8_t>(x ? 1 : 0); });
  write_itk(mask.grid, v, path);
}

}  // namespace vmatplan
