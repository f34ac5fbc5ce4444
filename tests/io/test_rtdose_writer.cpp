#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "test_support.h"
#include "vmatplan/io/rtdose_writer.h"

using namespace vmatplan;

namespace {

Image3D<float> dose_blob() {
  ImageGrid g;
  g.size = {12, 10, 6};
  g.spacing_mm = {2.5, 3.0, 4.0};
  g.origin_mm = {-15, -20, 30};
  Image3D<float> d(g);
  for (int k = 0; k < 6; ++k)
    for (int j = 0; j < 10; ++j)
      for (int i = 0; i < 12; ++i)
        d.at(i, j, k) = static_cast<float>(62.0 * std::exp(-0.02 * ((i - 6) * (i - 6) + (j - 4) * (j - 4) + 3 * (k - 2) * (k - 2))));
  return d;
}

DeliveryPlan plan_ref() {
  DeliveryPlan p;
  p.sop_instance_uid = "1.2.826.0.1.3680043.2.1125.1";
  p.identity.patient_id = "D1";
  p.identity.frame_of_reference_uid = "1.2.826.0.1.3680043.2.1125.2";
  return p;
}

}  // namespace

TEST_CASE("RT Dose reads back in pydicom with the same values", "[io][rtdose]") {
  if (!test::have_program("/usr/bin/python3")) {
    WARN("skipped: /usr/bin/python3 not found");
    return;
  }
  const auto dose = dose_blob();
  const std::string dir = test::scratch_dir("rtdose");
  for (int bits : {32, 16}) {
    INFO(bits << " bits");
    const std::string file = dir + "/RD" + std::to_string(bits) + ".dcm";
    write_rtdose(dose, plan_ref(), file, {bits});
    // pydicom: frames x rows x columns = k x j x i; print max |difference| and the reference.
    std::ostringstream values;
    values.precision(9);
    for (float v : dose.voxels) values << v << ",";
    auto r = test::run_shell(
        "/usr/bin/python3 -c \"import pydicom, numpy as np; d = pydicom.dcmread('" + file + "'); "
        "a = d.pixel_array.astype(float) * float(d.DoseGridScaling); "
        "ref = np.array([" + values.str() + "]).reshape(6, 10, 12); "
        "print(a.shape == ref.shape, abs(a - ref).max() <= max(float(d.DoseGridScaling), 1e-5), "
        "d.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID, float(d.GridFrameOffsetVector[-1]))\"");
    INFO(r.err);
    CHECK(r.out == "True True 1.2.826.0.1.3680043.2.1125.1 20.0\n");
  }
  // dciodvfy asserts on any 32-bit RT Dose (toolchain notes): validate the 16-bit one.
  if (test::have_program("dciodvfy")) {
    auto v = test::run_shell("dciodvfy '" + dir + "/RD16.dcm'");
    INFO(v.out + v.err);
    CHECK((v.out + v.err).find("Error") == std::string::npos);
  }
}
