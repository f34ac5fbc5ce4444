// Image files through ITK: CT and mask survive a write/read round trip in every format,
// with a non-identity direction (x flipped, as in a feet-first-style series).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/image_io.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

ImageGrid flipped_grid() {
  ImageGrid g;
  g.size = {7, 5, 4};
  g.spacing_mm = {1.5, 2.0, 3.0};
  g.origin_mm = {40.0, -12.5, 101.0};
  g.direction = {-1, 0, 0, 0, 1, 0, 0, 0, 1};  // index i runs towards patient right
  return g;
}

CtImage ramp_ct() {
  CtImage ct(flipped_grid());
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t i = 0; i < 7; ++i) ct.at(i, j, k) = float(-1000 + 100 * i + 10 * j + k);
  return ct;
}

}  // namespace

TEST_CASE("CT and mask round trip in NIfTI, MetaImage and NRRD", "[image_io]") {
  const std::string dir = test::scratch_dir("image_io_roundtrip");
  CtImage ct = ramp_ct();
  ct.at(0, 0, 0) = 12.4f;  // int16 writing rounds
  Mask mask(ct.grid, 0);
  mask.at(1, 2, 3) = 1;
  mask.at(6, 4, 0) = 1;

  for (const char* ext : {".nii.gz", ".mha", ".nrrd"}) {
    INFO("format " << ext);
    const std::string ct_path = dir + "/ct" + ext, mask_path = dir + "/mask" + ext,
                      float_path = dir + "/float" + ext;
    write_ct_int16(ct, ct_path);
    write_image(ct, float_path);
    write_mask(mask, mask_path);

    CtImage back = read_image_float(ct_path);
    REQUIRE(back.grid.same_geometry(ct.grid, 1e-4));
    CHECK(back.grid.orientation_code() == "RPS");
    CHECK(back.at(0, 0, 0) == 12.0f);
    CHECK(back.at(6, 4, 3) == ct.at(6, 4, 3));
    CHECK(back.at(3, 1, 2) == ct.at(3, 1, 2));
    // The physical position of a voxel survives, not only its index.
    Vec3 p = back.grid.index_to_physical({6, 0, 0});
    CHECK(p[0] == Approx(40.0 - 6 * 1.5));

    CtImage fl = read_image_float(float_path);
    CHECK(fl.voxels == ct.voxels);

    Mask m = read_mask(mask_path);
    REQUIRE(m.grid.same_geometry(ct.grid, 1e-4));
    CHECK(m.voxels == mask.voxels);
  }
}

TEST_CASE("NIfTI output is gzip-compressed", "[image_io]") {
  const std::string path = test::scratch_dir("image_io_gz") + "/m.nii.gz";
  write_mask(Mask(flipped_grid(), 1), path);
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  CHECK(magic[0] == 0x1f);
  CHECK(magic[1] == 0x8b);
}

TEST_CASE("image errors name the file on one line", "[image_io]") {
  const std::string dir = test::scratch_dir("image_io_errors");
  try {
    read_image_float(dir + "/missing.nii.gz");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.path() == dir + "/missing.nii.gz");
    CHECK(e.problem() == "does not exist");
  }
  std::ofstream(dir + "/junk.nii.gz") << "this is not an image";
  try {
    read_mask(dir + "/junk.nii.gz");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.path() == dir + "/junk.nii.gz");
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
  CHECK_THROWS_AS(write_mask(Mask(flipped_grid(), 1), dir + "/m.png.txt"), InputError);
  CHECK_THROWS_AS(write_mask(Mask(flipped_grid(), 1), dir + "/no_such_dir/m.nii.gz"), InputError);
}

// niftilib sets NaN and infinite float voxels to 0 while reading (nifti_read_buffer), so
// ITK hands over a finite image: a CT hole would be planned on as water, a dose hole as
// 0 Gy. The reader must refuse them instead, as it does for MetaImage and NRRD.
TEST_CASE("non-finite voxels in a float image are refused in every format", "[image_io]") {
  const std::string dir = test::scratch_dir("image_io_nonfinite");
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".nrrd"}) {
    for (const float bad : {NAN, INFINITY, -INFINITY}) {
      INFO("format " << ext << ", value " << bad);
      CtImage ct = ramp_ct();
      ct.at(3, 2, 1) = bad;
      const std::string path = dir + "/ct" + ext;
      write_image(ct, path);
      try {
        read_image_float(path);
        FAIL("no error");
      } catch (const InputError& e) {
        CHECK(e.path() == path);
        CHECK(e.problem().find("not finite") != std::string::npos);
      }
      CHECK_THROWS_AS(read_mask(path), InputError);
    }
  }
}
