// Dose pictures: marching squares against an analytic circle, the PNG decoded by Python's
// own zlib, and the six slices (orientation, isodose lines, outlines, colour bar).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <regex>

#include "test_support.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/report/dose_slices.h"
#include "vmatplan/report/html_report.h"
#include "vmatplan/report/png.h"

using namespace vmatplan;

namespace {

// A 40 x 30 x 20 patient at 2.5 mm: water body, a PTV ball left of centre (x > 0), the dose
// a Gaussian around the PTV; structures all red (no colour table).
struct Sample {
  Patient patient;
  DoseImage dose;
  PlanEvaluation evaluation;
};

Sample make_sample() {
  Sample s;
  ImageGrid g;
  g.size = {40, 30, 20};
  g.spacing_mm = {2.5, 2.5, 2.5};
  g.origin_mm = {-48.75, -36.25, -23.75};
  s.patient.source = "sample";
  s.patient.ct_hu = CtImage(g, -1000.0f);
  Structure body{1, "BODY", "EXTERNAL", {255, 0, 0}, Mask(g, 0), {}};
  Structure ptv{2, "PTV", "PTV", {255, 0, 0}, Mask(g, 0), {}};
  Structure rectum{3, "Rectum", "ORGAN", {255, 0, 0}, Mask(g, 0), {}};
  Structure bladder{4, "Bladder", "ORGAN", {255, 0, 0}, Mask(g, 0), {}};
  Structure femur_l{5, "Femur_Head_L", "ORGAN", {255, 0, 0}, Mask(g, 0), {}};
  Structure femur_r{6, "Femur_Head_R", "ORGAN", {255, 0, 0}, Mask(g, 0), {}};
  s.dose = DoseImage(g, 0.0f);
  const Vec3 c{20.0, 0.0, 0.0};
  for (int k = 0; k < 20; ++k)
    for (int j = 0; j < 30; ++j)
      for (int i = 0; i < 40; ++i) {
        const Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        const double r2 = (p[0] - c[0]) * (p[0] - c[0]) + p[1] * p[1] + p[2] * p[2];
        if (p[0] * p[0] / 2025.0 + p[1] * p[1] / 900.0 < 1.0) {
          body.mask.at(i, j, k) = 1;
          s.patient.ct_hu.at(i, j, k) = 0.0f;
        }
        if (r2 < 100.0) ptv.mask.at(i, j, k) = 1;
        if ((p[0] - 0.0) * (p[0] - 0.0) + (p[1] - 20.0) * (p[1] - 20.0) < 36.0) rectum.mask.at(i, j, k) = 1;
        if (p[0] * p[0] + (p[1] + 20.0) * (p[1] + 20.0) < 36.0) bladder.mask.at(i, j, k) = 1;
        if ((p[0] - 36.0) * (p[0] - 36.0) + p[1] * p[1] < 25.0) femur_l.mask.at(i, j, k) = 1;
        if ((p[0] + 36.0) * (p[0] + 36.0) + p[1] * p[1] < 25.0) femur_r.mask.at(i, j, k) = 1;
        s.dose.at(i, j, k) = static_cast<float>(63.0 * std::exp(-r2 / (2 * 15.0 * 15.0)));
      }
  s.patient.structures = {body, ptv, rectum, bladder, femur_l, femur_r};
  s.evaluation = evaluate_plan(s.patient, s.dose, load_protocol("prostate_60gy_20fx"),
                               StructureRoles::load_default());
  return s;
}

}  // namespace

TEST_CASE("marching squares follows a circle", "[report][slices]") {
  const int W = 60, H = 50;
  const double cx = 30.0, cy = 24.0, r = 15.0;  // in pixel-centre coordinates (i + 0.5)
  std::vector<float> f(W * H);
  for (int v = 0; v < H; ++v)
    for (int u = 0; u < W; ++u)
      f[v * W + u] = float(std::hypot(u + 0.5 - cx, v + 0.5 - cy));  // distance field
  const std::string d = contour_path(f, W, H, r);
  const std::regex num(R"([ML](-?[0-9.]+) (-?[0-9.]+))");
  int points = 0;
  double worst = 0;
  for (auto it = std::sregex_iterator(d.begin(), d.end(), num); it != std::sregex_iterator(); ++it) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    worst = std::max(worst, std::abs(std::hypot(x - cx, y - cy) - r));
    ++points;
  }
  CHECK(points > 2 * 80);  // ~ 2 pi r cells crossed, two points per segment
  CHECK(worst < 0.1);      // linear interpolation of a distance field is near exact
  CHECK(contour_path(f, W, H, 100.0).empty());
}

TEST_CASE("PNG writer: Python's zlib reads the pixels back", "[report][png]") {
  if (!test::have_program("/usr/bin/python3")) {
    WARN("skipped: /usr/bin/python3 not found");
    return;
  }
  const int W = 3, H = 2;
  std::vector<uint8_t> rgb;
  for (int i = 0; i < W * H * 3; ++i) rgb.push_back(uint8_t(i * 13));
  const std::string dir = test::scratch_dir("png");
  {
    const auto png = encode_png_rgb(W, H, rgb);
    std::ofstream(dir + "/t.png", std::ios::binary).write(reinterpret_cast<const char*>(png.data()), png.size());
  }
  // Parse chunks, check CRCs, inflate IDAT, drop the filter bytes.
  {
    std::ofstream py(dir + "/read_png.py");
    py << "import struct, sys, zlib\n"
          "b = open(sys.argv[1], 'rb').read()\n"
          "assert b[:8] == bytes([137, 80, 78, 71, 13, 10, 26, 10])\n"
          "p, idat, ok, hdr = 8, b'', True, None\n"
          "while p < len(b):\n"
          "    n, = struct.unpack('>I', b[p:p + 4]); t = b[p + 4:p + 8]; d = b[p + 8:p + 8 + n]\n"
          "    ok = ok and struct.unpack('>I', b[p + 8 + n:p + 12 + n])[0] == zlib.crc32(t + d)\n"
          "    if t == b'IHDR': hdr = d\n"
          "    if t == b'IDAT': idat += d\n"
          "    p += 12 + n\n"
          "w, h, depth, ctype = struct.unpack('>IIBB', hdr[:10])\n"
          "raw = zlib.decompress(idat)\n"
          "px = b''.join(raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h))\n"
          "print(ok, w, h, depth, ctype, list(px) == [i * 13 for i in range(w * h * 3)])\n";
  }
  const auto r = test::run_shell("/usr/bin/python3 " + dir + "/read_png.py " + dir + "/t.png");
  INFO(r.err);
  CHECK(r.out == "True 3 2 8 2 True\n");
  CHECK(base64_encode({'M', 'a', 'n'}) == "TWFu");
  CHECK(base64_encode({'M', 'a'}) == "TWE=");
  CHECK(base64_encode({'M'}) == "TQ==");
  CHECK_THROWS(encode_png_rgb(2, 2, rgb));
}

TEST_CASE("dose slices: six views with wash, isodose lines, outlines and a colour bar", "[report][slices]") {
  const Sample s = make_sample();
  const auto slices = render_dose_slices(s.patient, s.dose, s.evaluation);
  REQUIRE(slices.size() == 6);
  for (const auto& sl : slices) {
    INFO(sl.file_name);
    CHECK(sl.svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK(test::count_occurrences(sl.svg, "data:image/png;base64,") == 1);
    CHECK(sl.svg.find("<title>95 % (57.0 Gy)</title>") != std::string::npos);
    CHECK(sl.svg.find("<title>30 % (18.0 Gy)</title>") != std::string::npos);
    CHECK(sl.svg.find("<title>PTV</title>") != std::string::npos);
    CHECK(sl.svg.find("<title>BODY</title>") != std::string::npos);
    CHECK(sl.svg.find(">Gy</text>") != std::string::npos);
    CHECK(sl.svg.find("linearGradient") != std::string::npos);
    // No colour table: the role colours (PTV red, BODY green), not red for all.
    CHECK(sl.svg.find("stroke=\"#00aa00\"") != std::string::npos);
  }
  CHECK(slices[0].file_name == "dose_axial_target.svg");
  CHECK(slices[0].title.find("through the centre of PTV") != std::string::npos);
  CHECK(slices[0].point_mm[0] == Approx(20.0).margin(1.0));
  CHECK(slices[3].through == "max");
  CHECK(slices[3].point_mm[0] == Approx(20.0).margin(1.3));
  // Radiological display: the PTV at the patient's left (x > 0) is right of the image
  // centre in the axial view; the cross marking the slice point says where.
  const std::regex cross(R"(<path stroke="#ffffff" stroke-width="1" d="M([0-9.]+) ([0-9.]+) h12)");
  std::smatch m;
  REQUIRE(std::regex_search(slices[0].svg, m, cross));
  // 40 x 30 samples shown 360 x 270 px: x = +20 mm is sample 27.5 of 40, at 252 px.
  CHECK(std::stod(m[1]) + 6 == Approx(252.0).margin(1.0));
}

TEST_CASE("evaluation report embeds the slices and writes them", "[report][slices]") {
  const Sample s = make_sample();
  const std::string dir = test::scratch_dir("report_slices");
  write_plan_report(dir, s.evaluation, {"sample", "dose", "protocol", ""}, nullptr, {&s.patient, &s.dose});
  std::ifstream in(dir + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(html.find("<h2>Dose distribution</h2>") != std::string::npos);
  CHECK(test::count_occurrences(html, "data:image/png;base64,") == 6);
  for (const char* v : {"axial", "sagittal", "coronal"})
    for (const char* t : {"target", "max"})
      CHECK(std::ifstream(dir + "/dose_" + std::string(v) + "_" + t + ".svg").good());
}
