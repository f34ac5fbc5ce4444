#include "vmatplan/patient/patient_checks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "vmatplan/core/error.h"
#include "vmatplan/core/mask_scan.h"

namespace vmatplan {
namespace {

std::string num(double v, const char* fmt = "%g") {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

}  // namespace

std::string grid_problem(const ImageGrid& g) {
  for (int a = 0; a < 3; ++a)
    if (g.size[a] < 1) return "image has no voxels (size " + std::to_string(g.size[a]) + " along axis " + std::to_string(a) + ")";
  for (int a = 0; a < 3; ++a) {
    const double s = g.spacing_mm[a];
    if (!std::isfinite(s) || !(s > 0) || s > 100)
      return "voxel spacing " + num(s) + " mm along axis " + std::to_string(a) +
             " is not a finite value in (0, 100] mm";
    if (!std::isfinite(g.origin_mm[a])) return "image origin is not finite";
  }
  for (int c = 0; c < 3; ++c) {
    const Vec3 u = g.axis(c);
    for (double x : u)
      if (!std::isfinite(x)) return "image direction cosines are not finite";
    for (int d = 0; d < 3; ++d) {
      const Vec3 v = g.axis(d);
      const double dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
      if (std::abs(dot - (c == d ? 1.0 : 0.0)) > 1e-3) return "image direction cosines are not orthonormal";
    }
  }
  return "";
}

void validate_ct(const CtImage& ct, const std::string& source) {
  const std::string g = grid_problem(ct.grid);
  if (!g.empty()) throw InputError(source, "CT " + g);
  if (static_cast<int64_t>(ct.voxels.size()) != ct.grid.voxel_count())
    throw InputError(source, "CT holds " + std::to_string(ct.voxels.size()) + " voxels, its grid " +
                                 std::to_string(ct.grid.voxel_count()));
  int64_t bad = 0, out_of_range = 0;
  float lo = 0, hi = 0;
  for (float v : ct.voxels) {
    if (!std::isfinite(v)) {
      ++bad;
    } else if (v < -10000.0f || v > 100000.0f) {
      if (out_of_range++ == 0) lo = hi = v;
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (bad > 0)
    throw InputError(source, "CT has " + std::to_string(bad) +
                                 " voxels that are not finite numbers (NaN or Inf: a bad rescale "
                                 "slope or a damaged file?)");
  if (out_of_range > 0)
    throw InputError(source, "CT has " + std::to_string(out_of_range) + " voxels outside -10000..100000 HU (" +
                                 num(lo) + " .. " + num(hi) + "): not Hounsfield units?");
}

void validate_patient(const Patient& patient, const std::string& source) {
  validate_ct(patient.ct_hu, source);
  for (const Structure& s : patient.structures) {
    if (!s.mask.grid.same_geometry(patient.ct_hu.grid, 1e-3) ||
        static_cast<int64_t>(s.mask.voxels.size()) != patient.ct_hu.grid.voxel_count())
      throw InputError(source, "structure '" + s.name + "' is not on the CT grid");
  }
}

namespace {

// A couch structure: RT ROI Interpreted Type SUPPORT (PS3.3 C.8.8.8, what planning systems
// give their couch models), or a name that says so ("CouchSurface", "Couch Interior").
bool is_couch(const Structure& s) {
  std::string name = s.name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.type == "SUPPORT" || name.find("couch") != std::string::npos;
}

// Structures that overlap a couch structure, and structures other than the target (checked
// above) and the body that lie partly outside the body, in the air around the patient:
// both are signs of contours shifted against the CT or of a couch placed through the patient.
void structure_placement_checks(const Patient& patient, const Structure& target,
                                const Structure* body, std::vector<std::string>& w) {
  const double voxel_cc = patient.ct_hu.grid.voxel_volume_mm3() / 1000.0;
  std::vector<const Structure*> couches;
  for (const Structure& s : patient.structures)
    if (is_couch(s)) couches.push_back(&s);
  for (const Structure& s : patient.structures) {
    if (is_couch(s)) continue;
    const bool check_outside = body && &s != body && s.name != body->name && s.name != target.name;
    std::vector<int64_t> on_couch(couches.size(), 0);
    int64_t n = 0, outside = 0;
    for_each_set_voxel(s.mask.voxels, [&](size_t v) {
      ++n;
      if (check_outside && !body->mask.voxels[v]) ++outside;
      for (size_t c = 0; c < couches.size(); ++c) on_couch[c] += couches[c]->mask.voxels[v] ? 1 : 0;
    });
    for (size_t c = 0; c < couches.size(); ++c)
      if (on_couch[c] > 0)
        w.push_back("structure '" + s.name + "' overlaps couch structure '" + couches[c]->name + "' (" +
                    std::to_string(on_couch[c]) + " voxels, " + num(on_couch[c] * voxel_cc, "%.2f") +
                    " cc): contours shifted, or the couch placed through the patient?");
    // 1 %: rasterizing the structure and the body separately can leave a rim of a few
    // voxels outside; more than that is not a rim.
    if (n > 0 && outside * 100 > n)
      w.push_back("structure '" + s.name + "': " + num(100.0 * outside / n, "%.1f") +
                  " % of its volume lies outside body '" + body->name +
                  "', in the air around the patient: contours shifted against the CT?");
  }
}

}  // namespace

std::vector<std::string> planning_checks(const Patient& patient, const Structure& target,
                                         const Structure* body, double hu_table_max) {
  std::vector<std::string> w;
  const CtImage& ct = patient.ct_hu;
  const ImageGrid& g = ct.grid;
  const Mask& t = target.mask;
  int64_t n_target = 0, outside_body = 0, air = 0, edge = 0;
  int64_t k_lo = g.size[2], k_hi = -1;
  for_each_set_voxel(t.voxels, [&](size_t linear) {
    const int64_t v = static_cast<int64_t>(linear);
    const int64_t i = v % g.size[0], j = (v / g.size[0]) % g.size[1], k = v / (g.size[0] * g.size[1]);
    ++n_target;
    k_lo = std::min(k_lo, k), k_hi = std::max(k_hi, k);
    if (body && !body->mask.voxels[v]) ++outside_body;
    if (ct.voxels[v] < -400.0f) ++air;
    if (i == 0 || j == 0 || k == 0 || i == g.size[0] - 1 || j == g.size[1] - 1 || k == g.size[2] - 1)
      ++edge;
  });
  const std::string tn = "target '" + target.name + "'";
  if (n_target == 0) throw ProcessingError(patient.source + ": " + tn + " is empty");
  if (body) {
    const double f = 100.0 * static_cast<double>(outside_body) / static_cast<double>(n_target);
    if (f > 50.0)
      throw ProcessingError(patient.source + ": " + tn + " lies " + num(f, "%.0f") + " % outside body '" +
                            body->name + "'; a plan would not treat it (check the structures)");
    if (outside_body > 0)
      w.push_back(tn + ": " + num(f, "%.1f") + " % of its volume lies outside body '" + body->name + "'");
  }
  if (edge > 0)
    w.push_back(tn + " touches the edge of the scan (" + std::to_string(edge) +
                " voxels on the first/last slice or the in-plane border): the dose beyond the scan is not computed");
  if (air > 0)
    w.push_back(tn + ": " + num(100.0 * air / n_target, "%.1f") + " % of its voxels are air (below -400 HU)");
  // High density on the slices the arcs irradiate: the HU -> density table clamps it.
  const int64_t margin = static_cast<int64_t>(std::ceil(30.0 / g.spacing_mm[2]));
  const int64_t z0 = std::max<int64_t>(0, k_lo - margin), z1 = std::min<int64_t>(g.size[2] - 1, k_hi + margin);
  int64_t dense = 0;
  float dense_max = 0;
  for (int64_t k = z0; k <= z1; ++k)
    for (int64_t v = g.linear_index(0, 0, k), e = v + g.size[0] * g.size[1]; v < e; ++v)
      if (ct.voxels[v] > hu_table_max && (!body || body->mask.voxels[v])) {
        ++dense;
        dense_max = std::max(dense_max, ct.voxels[v]);
      }
  if (dense > 0)
    w.push_back(std::to_string(dense) + " voxels (" + num(dense * g.voxel_volume_mm3() / 1000.0, "%.2f") +
                " cc) in the arcs' path exceed " + num(hu_table_max) + " HU, the top of the HU to density table (max " +
                num(dense_max) + " HU: metal?); their density is clamped, the dose there is unreliable");
  structure_placement_checks(patient, target, body, w);
  return w;
}

}  // namespace vmatplan
