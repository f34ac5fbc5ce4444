#include "vmatplan/patient/pelvis_phantom.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "pelvis_anatomy.h"
#include "vmatplan/core/contour_extraction.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/core/uid.h"

namespace vmatplan {
namespace {

using phantom::PelvisAnatomy;

constexpr float kFar = 1e30f;

void check_options(const PelvisPhantomOptions& o) {
  for (int a = 0; a < 3; ++a) {
    if (!(o.spacing_mm[a] > 0) || !std::isfinite(o.spacing_mm[a]))
      throw UsageError("phantom: spacing must be positive");
    if (!(o.field_of_view_mm[a] >= o.spacing_mm[a]) || !std::isfinite(o.field_of_view_mm[a]))
      throw UsageError("phantom: field of view must be at least one voxel along each axis");
  }
  if (!(o.ptv_margin_mm >= 0 && o.ptv_margin_mm <= 50))
    throw UsageError("phantom: PTV margin must be between 0 and 50 mm");
  if (!(o.noise_hu >= 0 && o.noise_hu <= 1000))
    throw UsageError("phantom: noise must be between 0 and 1000 HU");
  double voxels = 1;
  for (int a = 0; a < 3; ++a) voxels *= std::round(o.field_of_view_mm[a] / o.spacing_mm[a]);
  if (voxels > 4e8) throw UsageError("phantom: grid too large (more than 4e8 voxels)");
}

// Direction columns (index axes in LPS) per patient position. Head-first slices run
// inferior to superior, feet-first ones superior to inferior; rows and columns follow the
// usual display of each position (e.g. FFS rows run towards the patient's right).
std::array<double, 9> position_direction(const std::string& pos) {
  Vec3 row, col, slice;
  if (pos == "HFS") row = {1, 0, 0}, col = {0, 1, 0}, slice = {0, 0, 1};
  else if (pos == "FFS") row = {-1, 0, 0}, col = {0, 1, 0}, slice = {0, 0, -1};
  else if (pos == "HFP") row = {-1, 0, 0}, col = {0, -1, 0}, slice = {0, 0, 1};
  else if (pos == "FFP") row = {1, 0, 0}, col = {0, -1, 0}, slice = {0, 0, -1};
  else throw UsageError("phantom: patient position must be HFS, FFS, HFP or FFP, not '" + pos + "'");
  std::array<double, 9> d{};
  for (int r = 0; r < 3; ++r) {
    d[r * 3 + 0] = row[r];
    d[r * 3 + 1] = col[r];
    d[r * 3 + 2] = slice[r];
  }
  return d;
}

// A grid of round(fov / spacing) voxels whose centre is `centre_mm`, so that every
// orientation samples the same set of points in patient space.
ImageGrid phantom_grid(const PelvisPhantomOptions& o, const Vec3& centre_mm) {
  ImageGrid g;
  g.direction = position_direction(o.patient_position);
  g.spacing_mm = o.spacing_mm;
  for (int a = 0; a < 3; ++a)
    g.size[a] = std::max<int64_t>(1, std::llround(o.field_of_view_mm[a] / o.spacing_mm[a]));
  g.origin_mm = centre_mm;
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 3; ++r)
      g.origin_mm[r] -= g.direction[r * 3 + c] * g.spacing_mm[c] * double(g.size[c] - 1) / 2;
  return g;
}

template <class F>
Image3D<float> sample_field(const ImageGrid& g, F f) {
  Image3D<float> out(g);
  parallel_for(static_cast<long>(g.size[2]), [&](long k0, long k1) {
    for (long k = k0; k < k1; ++k)
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i)
          out.at(i, j, k) = static_cast<float>(f(g.index_to_physical({double(i), double(j), double(k)})));
  });
  return out;
}

Mask inside_of(const Image3D<float>& field) {
  Mask m(field.grid);
  for (size_t n = 0; n < field.voxels.size(); ++n) m.voxels[n] = field.voxels[n] < 0.0f;
  return m;
}

// One pass of the exact 1-D squared distance transform of Felzenszwalb & Huttenlocher
// (Theory of Computing 8, 2012): lower envelope of parabolas rooted at samples h*q.
// f holds squared distances (kFar = none); d receives the result.
void edt_1d(const std::vector<double>& f, double h, std::vector<double>& d,
            std::vector<int>& v, std::vector<double>& z) {
  const int n = static_cast<int>(f.size());
  int k = -1;
  for (int q = 0; q < n; ++q) {
    if (f[q] >= kFar) continue;
    if (k < 0) {
      k = 0, v[0] = q, z[0] = -1e300, z[1] = 1e300;
      continue;
    }
    double s;
    while (true) {
      const double xq = h * q, xv = h * v[k];
      s = ((f[q] + xq * xq) - (f[v[k]] + xv * xv)) / (2 * (xq - xv));
      if (s <= z[k]) --k;  // z[0] = -inf, so k stays >= 0
      else break;
    }
    ++k, v[k] = q, z[k] = s, z[k + 1] = 1e300;
  }
  if (k < 0) {
    std::fill(d.begin(), d.end(), double(kFar));
    return;
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[k + 1] < h * q) ++k;
    const double dx = h * (q - v[k]);
    d[q] = dx * dx + f[v[k]];
  }
}

// Exact Euclidean distance (mm) from each voxel centre to the nearest inside voxel centre,
// with anisotropic spacing: three separable passes, one per index axis.
Image3D<float> distance_to_mask_mm(const Mask& mask) {
  const ImageGrid& g = mask.grid;
  Image3D<float> d2(g);
  for (size_t n = 0; n < mask.voxels.size(); ++n) d2.voxels[n] = mask.voxels[n] ? 0.0f : kFar;
  const int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  auto pass = [&](int axis, long outer_n, auto index_of) {
    const int64_t n = g.size[axis];
    parallel_for(outer_n, [&](long o0, long o1) {
      std::vector<double> f(n), d(n), z(n + 1);
      std::vector<int> v(n);
      for (long o = o0; o < o1; ++o) {
        for (int64_t q = 0; q < n; ++q) f[q] = d2.voxels[index_of(o, q)];
        edt_1d(f, g.spacing_mm[axis], d, v, z);
        for (int64_t q = 0; q < n; ++q) d2.voxels[index_of(o, q)] = float(std::min(d[q], double(kFar)));
      }
    });
  };
  pass(0, long(ny * nz), [&](long o, int64_t q) { return size_t(q + nx * o); });
  pass(1, long(nx * nz), [&](long o, int64_t q) {
    return size_t((o % nx) + nx * (q + ny * (o / nx)));
  });
  pass(2, long(nx * ny), [&](long o, int64_t q) { return size_t(o + nx * ny * q); });
  for (auto& x : d2.voxels) x = x >= kFar ? kFar : std::sqrt(x);
  return d2;
}

Structure make_structure(int number, const std::string& name, const std::string& type,
                         std::array<uint8_t, 3> rgb, const Image3D<float>& field) {
  Structure s;
  s.number = number;
  s.name = name;
  s.type = type;
  s.color_rgb = rgb;
  s.mask = inside_of(field);
  s.contours = extract_slice_contours(field, 0.0f);
  return s;
}

// Hounsfield units of the tissue classes (typical CT values, e.g. Schneider et al.,
// Phys Med Biol 45:459, 2000).
constexpr float kAirHu = -1000, kFatHu = -100, kMesorectalFatHu = -90, kMuscleHu = 40,
                kUrineHu = 10, kProstateHu = 45, kVesicleHu = 38, kRectumHu = 30,
                kGasHu = -900;

CtImage make_ct(const PelvisAnatomy& anatomy, const Image3D<float>& body_field,
                const std::vector<Structure>& s, const PelvisPhantomOptions& o) {
  const ImageGrid& g = body_field.grid;
  const Mask& prostate = s[3].mask;
  const Mask& vesicles = s[4].mask;
  const Mask& rectum = s[5].mask;
  const Mask& bladder = s[6].mask;
  const float tc = float(anatomy.cortical_thickness_mm());
  const float fat_mm = float(anatomy.fat_thickness_mm());
  CtImage ct(g, kAirHu);
  parallel_for(static_cast<long>(g.size[2]), [&](long k0, long k1) {
    for (long k = k0; k < k1; ++k) {
      phantom::Rng noise(o.seed * 0x2545f4914f6cdd1dULL + uint64_t(k) + 1);
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i) {
          const int64_t n = g.linear_index(i, j, k);
          float hu = kAirHu;
          if (body_field.voxels[n] < 0) {
            const Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
            // Inside of the fat layer = body outline moved inwards (anatomy.body_muscle).
            const bool muscle = body_field.voxels[n] + fat_mm < 0;
            hu = muscle ? kMuscleHu : kFatHu;
            if (hu == kMuscleHu && anatomy.mesorectal_fat(p) < 0) hu = kMesorectalFatHu;
            const double b = anatomy.bone(p);
            if (b < 0) hu = float(b > -tc ? anatomy.cortical_hu() : anatomy.trabecular_hu());
            if (bladder.voxels[n]) hu = kUrineHu;
            if (prostate.voxels[n]) hu = kProstateHu;
            if (vesicles.voxels[n]) hu = kVesicleHu;
            if (rectum.voxels[n]) hu = anatomy.rectal_gas(p) < 0 ? kGasHu : kRectumHu;
          }
          if (o.noise_hu > 0) hu += float(o.noise_hu * noise.gaussian());
          ct.voxels[n] = std::min(3071.0f, std::max(-1024.0f, hu));
        }
    }
  });
  return ct;
}

}  // namespace

Patient make_pelvis_phantom(const PelvisPhantomOptions& options, PhantomTruth* truth) {
  check_options(options);
  const PelvisAnatomy anatomy(options.seed);
  const ImageGrid grid = phantom_grid(options, anatomy.centre_mm());

  Patient patient;
  auto& st = patient.structures;
  // BODY's field is kept for the CT; every other field is dropped once its mask and
  // contours are made.
  Image3D<float> body = sample_field(grid, [&](const Vec3& p) { return anatomy.body(p); });
  st.push_back(make_structure(1, "BODY", "EXTERNAL", {0, 200, 0}, body));
  st.push_back(Structure{});  // PTV, from the CTV below
  {
    auto ctv = sample_field(grid, [&](const Vec3& p) {
      return std::min(anatomy.prostate(p), anatomy.seminal_vesicles(p));
    });
    st.push_back(make_structure(3, "CTV", "CTV", {255, 128, 0}, ctv));
  }
  auto add = [&](int number, const char* name, const char* type, std::array<uint8_t, 3> rgb,
                 auto f) { st.push_back(make_structure(number, name, type, rgb, sample_field(grid, f))); };
  add(4, "Prostate", "ORGAN", {0, 200, 200}, [&](const Vec3& p) { return anatomy.prostate(p); });
  add(5, "SeminalVesicles", "ORGAN", {255, 0, 255},
      [&](const Vec3& p) { return anatomy.seminal_vesicles(p); });
  add(6, "Rectum", "ORGAN", {150, 75, 0}, [&](const Vec3& p) { return anatomy.rectum(p); });
  add(7, "Bladder", "ORGAN", {255, 230, 0}, [&](const Vec3& p) { return anatomy.bladder(p); });
  add(8, "FemoralHead_L", "ORGAN", {160, 160, 255},
      [&](const Vec3& p) { return anatomy.femoral_head(p, +1); });
  add(9, "FemoralHead_R", "ORGAN", {120, 120, 255},
      [&](const Vec3& p) { return anatomy.femoral_head(p, -1); });
  {
    // PTV = CTV grown by the margin: distance to the CTV minus the margin is its field.
    // Voxel centres exactly at the margin (common on a lattice, e.g. 6 mm = 3 x 2 mm) are
    // inside; the 0.01 mm keeps them clear of the contour, so contours and mask agree.
    Image3D<float> ptv = distance_to_mask_mm(st[2].mask);
    const float m = float(options.ptv_margin_mm + 0.01);
    for (auto& d : ptv.voxels) d = d >= kFar ? kFar : d - m;
    st[1] = make_structure(2, "PTV", "PTV", {255, 0, 0}, ptv);
  }
  patient.ct_hu = make_ct(anatomy, body, st, options);

  for (const auto& s : st)
    if (std::none_of(s.mask.voxels.begin(), s.mask.voxels.end(), [](uint8_t v) { return v; }))
      patient.warnings.push_back("phantom: structure " + s.name +
                                 " is empty on this grid (field of view too small?)");

  // Identity: seeded UIDs, salted with the grid options so that two different images of
  // one seed never share a UID.
  std::ostringstream sig;
  sig << options.patient_position << '|' << options.spacing_mm[0] << ',' << options.spacing_mm[1]
      << ',' << options.spacing_mm[2] << '|' << options.field_of_view_mm[0] << ','
      << options.field_of_view_mm[1] << ',' << options.field_of_view_mm[2] << '|'
      << options.ptv_margin_mm << '|' << options.noise_hu;
  auto& id = patient.identity;
  id.patient_id = "PHANTOM-" + std::to_string(options.seed);
  id.patient_name = "Phantom^Pelvis" + std::to_string(options.seed);
  id.study_instance_uid = make_uid(options.seed, "study|" + sig.str());
  id.series_instance_uid = make_uid(options.seed, "ct-series|" + sig.str());
  id.frame_of_reference_uid = make_uid(options.seed, "frame-of-reference|" + sig.str());
  id.structure_set_sop_instance_uid = make_uid(options.seed, "rtstruct|" + sig.str());
  id.patient_position = options.patient_position;
  patient.source = "phantom seed " + std::to_string(options.seed);
  patient.format = "phantom";

  if (truth) {
    truth->analytic_volume_cc = anatomy.analytic_volumes_cc();
    truth->parameters = anatomy.parameters();
  }
  return patient;
}

}  // namespace vmatplan
