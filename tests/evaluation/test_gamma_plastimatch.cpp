// Cross-check of compute_gamma with `plastimatch gamma --interp-search` (its sub-voxel
// search) on a smooth 3-D dose: a 60 Gy sphere with a sigmoid fall-off, evaluated as the
// same field shifted by (1.2, -0.7, 0.5) mm and scaled by 1.01. Both use the reference
// maximum as the global normalisation, a 10 % threshold on the reference only, and cap
// gamma at 2. The pass rates must agree within 1 percentage point.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "test_support.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/io/image_io.h"

using namespace vmatplan;

namespace {

double field(double x, double y, double z) {
  const double r = std::sqrt((x - 50) * (x - 50) + (y - 50) * (y - 50) + 1.44 * (z - 37) * (z - 37));
  return 5.0 + 55.0 / (1.0 + std::exp((r - 25.0) / 3.0)) + 0.1 * x;
}

DoseImage make(double dx, double dy, double dz, double scale) {
  ImageGrid g;
  g.size = {40, 40, 30};
  g.spacing_mm = {2.5, 2.5, 2.5};
  DoseImage d(g);
  for (int k = 0; k < 30; ++k)
    for (int j = 0; j < 40; ++j)
      for (int i = 0; i < 40; ++i)
        d.at(i, j, k) = static_cast<float>(scale * field(2.5 * i - dx, 2.5 * j - dy, 2.5 * k - dz));
  return d;
}

// A "key<TAB>value" line of plastimatch's --output-text file; -1 when absent.
double plastimatch_value(const std::string& text_file, const std::string& key) {
  std::ifstream in(text_file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "\t", 0) == 0) return std::stod(line.substr(key.size() + 1));
  return -1.0;
}

}  // namespace

TEST_CASE("Gamma pass rates agree with plastimatch gamma within 1 point",
          "[evaluation][gamma][plastimatch]") {
  if (!test::have_program("plastimatch")) {
    WARN("skipped: plastimatch not installed");
    return;
  }
  const std::string dir = test::scratch_dir("gamma_plastimatch");
  const DoseImage ref = make(0, 0, 0, 1.0);
  const DoseImage eval = make(1.2, -0.7, 0.5, 1.01);
  write_image(ref, dir + "/ref.mha");
  write_image(eval, dir + "/eval.mha");

  struct Case {
    double dose_pct, dta_mm;
    bool local;
  };
  for (const Case c : {Case{2.0, 1.0, false}, Case{1.0, 1.0, false}, Case{2.0, 1.0, true}}) {
    GammaOptions o;
    o.dose_criterion_pct = c.dose_pct;
    o.distance_mm = c.dta_mm;
    o.local = c.local;
    const GammaResult ours = compute_gamma(ref, eval, o);
    std::ostringstream cmd;
    cmd << "plastimatch gamma --dose-tolerance " << c.dose_pct / 100.0 << " --dta-tolerance "
        << c.dta_mm << " --analysis-threshold 0.1 --ref-only-threshold --gamma-max 2 "
        << "--interp-search " << (c.local ? "--local-gamma " : "") << "--output-text " << dir
        << "/g.txt " << dir << "/ref.mha " << dir << "/eval.mha";
    const auto r = test::run_shell(cmd.str());
    INFO(cmd.str() << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    const double theirs = plastimatch_value(dir + "/g.txt", "pass_rate(%)");
    INFO(c.dose_pct << "%/" << c.dta_mm << " mm " << (c.local ? "local" : "global") << ": vmatplan "
                    << ours.pass_rate_pct << " %, plastimatch " << theirs << " %");
    CHECK(ours.evaluated_voxels ==
          plastimatch_value(dir + "/g.txt", "number_of_analysis_voxels"));
    CHECK(std::abs(ours.pass_rate_pct - theirs) < 1.0);
    CHECK(ours.pass_rate_pct < 100.0);  // the criteria are tight enough to discriminate
  }
}
