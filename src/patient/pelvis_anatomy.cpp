#include "pelvis_anatomy.h"

#include <algorithm>
#include <cmath>

namespace vmatplan::phantom {
namespace {

constexpr double kPi = 3.14159265358979323846;

double clamp01(double t) { return std::min(1.0, std::max(0.0, t)); }
double smoothstep(double t) {
  t = clamp01(t);
  return t * t * (3 - 2 * t);
}

// (F - 1) / |grad F| for F = sqrt(u^2 + v^2), u = dx / a, v = dy / b: a first-order
// signed distance to the ellipse (exact on a circle).
double ellipse_field(double dx, double dy, double a, double b) {
  double u = dx / a, v = dy / b, f = std::sqrt(u * u + v * v);
  if (f < 1e-9) return -std::min(a, b);
  double g = std::sqrt(u * u / (a * a) + v * v / (b * b)) / f;
  return (f - 1.0) / g;
}

}  // namespace

double Rng::gaussian() {
  double u1 = std::max(uniform(0, 1), 1e-300), u2 = uniform(0, 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
}

double Ellipsoid::field(const Vec3& p) const {
  Vec3 d = sub(p, centre_mm);
  // Far away the distance to the bounding sphere is a cheap positive stand-in.
  const double r_max = std::max({semi_mm[0], semi_mm[1], semi_mm[2]});
  const double d2 = dot(d, d);
  if (d2 > (r_max + 10) * (r_max + 10)) return std::sqrt(d2) - r_max;
  double f2 = 0, g2 = 0;
  for (int i = 0; i < 3; ++i) {
    double u = dot(d, axes[i]) / semi_mm[i];
    f2 += u * u;
    g2 += u * u / (semi_mm[i] * semi_mm[i]);
  }
  double f = std::sqrt(f2);
  if (f < 1e-9) return -std::min({semi_mm[0], semi_mm[1], semi_mm[2]});
  return (f - 1.0) * f / std::sqrt(g2);
}

double Ellipsoid::extent_mm(int a) const {
  double s = 0;
  for (int i = 0; i < 3; ++i) s += std::pow(semi_mm[i] * axes[i][a], 2);
  return std::sqrt(s);
}

double Ellipsoid::volume_cc() const {
  return 4.0 / 3.0 * kPi * semi_mm[0] * semi_mm[1] * semi_mm[2] / 1000.0;
}

double Capsule::field(const Vec3& p) const {
  Vec3 ab = sub(b_mm, a_mm), ap = sub(p, a_mm);
  double t = clamp01(dot(ap, ab) / dot(ab, ab));
  return norm(sub(ap, scale(ab, t))) - radius_mm;
}

PelvisAnatomy::PelvisAnatomy(uint64_t seed) {
  Rng rng(seed);
  auto draw = [&](const char* name, double a, double b) {
    double v = rng.uniform(a, b);
    params_[name] = v;
    return v;
  };

  // Prostate: 20-70 cc, left-right longest, small sagittal and axial tilt.
  double vp = draw("prostate_volume_cc", 20, 70);
  double ra = draw("prostate_ratio_lr", 1.15, 1.35), rb = draw("prostate_ratio_ap", 0.75, 0.9);
  double s = std::cbrt(vp * 1000.0 / (4.0 / 3.0 * kPi * ra * rb));
  prostate_.semi_mm = {s * ra, s * rb, s};
  double tx = draw("prostate_tilt_x_deg", -15, 15) * kPi / 180;
  double tz = draw("prostate_tilt_z_deg", -5, 5) * kPi / 180;
  // Local axes = columns of Rz(tz) * Rx(tx).
  Vec3 ex{std::cos(tz), std::sin(tz), 0};
  Vec3 ey{-std::sin(tz) * std::cos(tx), std::cos(tz) * std::cos(tx), std::sin(tx)};
  prostate_.axes = {ex, ey, cross(ex, ey)};
  prostate_.centre_mm = {draw("prostate_x_mm", -2, 2), draw("prostate_y_mm", -3, 3),
                         draw("prostate_z_mm", -3, 3)};
  const Vec3 pc = prostate_.centre_mm;
  const double p_ext_y = prostate_.extent_mm(1), p_ext_z = prostate_.extent_mm(2);
  apex_z_ = pc[2] - p_ext_z;

  // Bladder: 80-500 cc "filling", resting above and anterior of the prostate base. Its
  // lowest point is above the prostate's highest, so the two never overlap.
  double vb = draw("bladder_volume_cc", 80, 500);
  double ba = 1.25 * rng.uniform(0.9, 1.1), bc = 0.85 * rng.uniform(0.85, 1.15);
  double sb = std::cbrt(vb * 1000.0 / (4.0 / 3.0 * kPi * ba * bc));
  bladder_.semi_mm = {sb * ba, sb, sb * bc};
  bladder_.centre_mm = {pc[0] + rng.uniform(-3, 3), pc[1] - draw("bladder_anterior_mm", 8, 16),
                        pc[2] + p_ext_z + rng.uniform(0.5, 3.0) + sb * bc};

  // Rectum: anterior wall touching (slightly indented by) the prostate; the centreline
  // curves posteriorly above it along the sacrum and slopes back below into the anal canal.
  rect_r_mm_ = draw("rectum_radius_mm", 12, 20);
  rect_y0_mm_ = pc[1] + p_ext_y + rect_r_mm_ - rng.uniform(0, 3);
  rect_curve_mm_ = draw("rectum_curve_mm", 15, 28);
  rect_z_lo_ = apex_z_ - rng.uniform(25, 35);
  rect_z_hi_ = pc[2] + rng.uniform(65, 80);
  mesorectal_mm_ = rng.uniform(5, 12);
  has_gas_ = rng.uniform(0, 1) < 0.4;
  params_["rectal_gas"] = has_gas_ ? 1 : 0;
  if (has_gas_) {
    double zg = pc[2] + rng.uniform(5, 30);
    gas_.centre_mm = {0, rectum_centre_y(zg) - 0.25 * rect_r_mm_, zg};
    gas_.semi_mm = {0.55 * rect_r_mm_, 0.45 * rect_r_mm_, rng.uniform(8, 18)};
  }

  // Seminal vesicles: from the posterior prostate base, laterally and superiorly.
  double sv_len = draw("sv_half_length_mm", 13, 18), sv_w = rng.uniform(6, 9),
         sv_t = rng.uniform(4, 6);
  for (int i = 0; i < 2; ++i) {
    double side = i == 0 ? 1 : -1;
    Vec3 u = normalized({side * 0.75, 0.2, 0.62});
    Vec3 w = normalized(sub(Vec3{0, 1, 0}, scale(u, u[1])));
    Vec3 base = add(pc, {side * 5, 0.55 * p_ext_y, p_ext_z - 3});
    sv_[i].centre_mm = add(base, scale(u, sv_len));
    sv_[i].semi_mm = {sv_len, sv_t, sv_w};
    sv_[i].axes = {u, w, cross(u, w)};
  }

  // Femora: heads at the level of the upper prostate, necks going inferolateral with a
  // little anteversion; the head is cut where the sphere narrows to the neck radius.
  double hx = draw("femoral_head_x_mm", 85, 95), rh = draw("femoral_head_radius_mm", 22, 27);
  double hy = pc[1] + rng.uniform(-5, 5), hz = pc[2] + draw("femoral_head_z_mm", 5, 18);
  for (int i = 0; i < 2; ++i) {
    double side = i == 0 ? 1 : -1;
    FemurSide& f = femur_[i];
    f.head_centre_mm = {side * (hx + rng.uniform(-1, 1)), hy + rng.uniform(-1, 1), hz};
    f.head_radius_mm = rh + rng.uniform(-0.5, 0.5);
    f.neck_dir = normalized({side * 0.72, -0.18, -0.62});
    double neck_r = 0.62 * f.head_radius_mm;
    f.head_cut_mm = std::sqrt(f.head_radius_mm * f.head_radius_mm - neck_r * neck_r);
    Vec3 neck_end = add(f.head_centre_mm, scale(f.neck_dir, f.head_radius_mm + 25));
    f.neck = {f.head_centre_mm, neck_end, neck_r};
    f.trochanter_mm = add(neck_end, {side * 10, 5, 8});
    f.trochanter_radius_mm = 17;
    Vec3 shaft_top = add(neck_end, {side * 4, 3, -10});
    f.shaft = {shaft_top, add(shaft_top, {-side * 35, 0, -250}), 14};
    // Acetabulum: a cup around the head (2.5 mm joint space) open inferolaterally.
    f.acetabulum_opening = normalized({side * 0.8, 0, -0.6});
    // Pubis: body at the symphysis (2 mm cartilage gap), superior ramus to the
    // acetabulum, inferior ramus down to the ischial tuberosity; ischium from there up to
    // the acetabulum.
    const Vec3& h = f.head_centre_mm;
    double pub_y = pc[1] - p_ext_y - 18 - 11;
    f.pubis = Ellipsoid{{side * 9.5, pub_y, pc[2] + 2}, {8.5, 11, 20}};
    Vec3 tuber{side * 54, pc[1] + 27, apex_z_ - 17};
    f.tuberosity = Ellipsoid{tuber, {13, 17, 20}};
    f.superior_ramus = {{side * 15, pub_y, pc[2] + 14}, add(h, {-side * 18, -18, 2}), 9};
    f.inferior_ramus = {{side * 14, pub_y + 3, pc[2] - 12}, tuber, 8};
    f.ischium = {tuber, add(h, {-side * 8, 18, -12}), 13};
  }
  cortical_hu_ = draw("cortical_hu", 800, 1000);
  trabecular_hu_ = draw("trabecular_hu", 200, 300);

  // Body: a rounded elliptic cylinder big enough for the bones it holds.
  body_a_mm_ = draw("body_semi_lr_mm", 170, 200);
  body_b_mm_ = draw("body_semi_ap_mm", 110, 130);
  fat_mm_ = draw("fat_thickness_mm", 10, 35);
  double anterior_skin = pc[1] - draw("anterior_skin_depth_mm", 80, 100);
  double bone_post = -1e9, bone_lat = 0;
  for (double z = apex_z_ - 20; z < hz + 100; z += 2) {
    Vec3 q{0, -60, z};
    for (; q[1] < 250; q[1] += 1)
      if (sacrum(q) < 0) bone_post = std::max(bone_post, q[1]);
  }
  for (const auto& f : femur_)
    bone_lat = std::max(bone_lat, std::abs(f.trochanter_mm[0]) + f.trochanter_radius_mm);
  body_a_mm_ = std::max(body_a_mm_, bone_lat + 8);
  body_b_mm_ = std::max(body_b_mm_, 0.5 * (bone_post + fat_mm_ + 15 - anterior_skin));
  params_["body_semi_lr_mm"] = body_a_mm_;
  params_["body_semi_ap_mm"] = body_b_mm_;
  body_yc_mm_ = anterior_skin + body_b_mm_;
  centre_mm_ = {0, body_yc_mm_, pc[2] + 15};
}

double PelvisAnatomy::body(const Vec3& p) const {
  // Superellipse of exponent n = 2.5: F = (u^n + v^n)^(1/n), field = (F - 1) / |grad F|
  // with |grad F| = F^(1-n) sqrt((u^(n-1)/A)^2 + (v^(n-1)/B)^2). n is fixed so that the
  // powers reduce to square roots but one.
  double u = std::abs(p[0]) / body_a_mm_, v = std::abs(p[1] - body_yc_mm_) / body_b_mm_;
  double su = std::sqrt(u), sv = std::sqrt(v);
  double un = u * u * su, vn = v * v * sv;
  double f = std::pow(un + vn, 0.4);
  if (f < 1e-9) return -std::min(body_a_mm_, body_b_mm_);
  double gu = u * su / body_a_mm_, gv = v * sv / body_b_mm_;
  double g = std::sqrt(gu * gu + gv * gv) / (f * std::sqrt(f));
  return (f - 1.0) / g;
}

double PelvisAnatomy::body_muscle(const Vec3& p) const {
  // Inside of the fat layer: the body outline moved inwards by the fat thickness.
  return body(p) + fat_mm_;
}

double PelvisAnatomy::rectum_centre_y(double z) const {
  const double zc = prostate_.centre_mm[2];
  if (z >= zc) return rect_y0_mm_ + rect_curve_mm_ * std::pow(std::sin(kPi / 2 * clamp01((z - zc) / 70)), 2);
  return rect_y0_mm_ + 0.15 * (zc - z);  // anal canal slopes back (anorectal angle)
}

double PelvisAnatomy::rectum_radius(double z) const {
  // The ampulla narrows to the anal canal below the prostate apex.
  return rect_r_mm_ * (0.55 + 0.45 * smoothstep((z - (apex_z_ - 15)) / 15));
}

double PelvisAnatomy::rectum_tube(const Vec3& p) const {
  // In an axial plane, a tube whose axis slopes by dy/dz cuts an ellipse stretched in y.
  double slope = (rectum_centre_y(p[2] + 0.5) - rectum_centre_y(p[2] - 0.5));
  double dy = (p[1] - rectum_centre_y(p[2])) / std::sqrt(1 + slope * slope);
  double f = std::sqrt(p[0] * p[0] + dy * dy) - rectum_radius(p[2]);
  return std::max({f, rect_z_lo_ - p[2], p[2] - rect_z_hi_});
}

double PelvisAnatomy::rectum(const Vec3& p) const {
  const double margin = std::abs(p[0]) - 1.5 * rect_r_mm_;
  if (margin > 5) return margin;  // far to the side: a positive stand-in
  return std::max({rectum_tube(p), -prostate_.field(p), -bladder_.field(p)});
}

double PelvisAnatomy::seminal_vesicles(const Vec3& p) const {
  double f = std::min(sv_[0].field(p), sv_[1].field(p));
  if (f > 5) return f;
  return std::max({f, -prostate_.field(p), -bladder_.field(p), -rectum(p)});
}

double PelvisAnatomy::femoral_head(const Vec3& p, int side) const {
  const FemurSide& f = femur_[side > 0 ? 0 : 1];
  Vec3 d = sub(p, f.head_centre_mm);
  return std::max(norm(d) - f.head_radius_mm, dot(d, f.neck_dir) - f.head_cut_mm);
}

double PelvisAnatomy::rectal_gas(const Vec3& p) const {
  if (!has_gas_) return 1e9;
  return std::max(gas_.field(p), rectum_tube(p) + 2.0);  // keep a 2 mm wall
}

double PelvisAnatomy::mesorectal_fat(const Vec3& p) const {
  const double margin = std::abs(p[0]) - 1.5 * rect_r_mm_ - mesorectal_mm_;
  if (margin > 5) return margin;
  double f = rectum_tube(p) - mesorectal_mm_;
  return std::max(f, apex_z_ - p[2]);
}

double PelvisAnatomy::sacrum(const Vec3& p) const {
  // Sacrum tapering into the coccyx, following the rectum's curve behind it.
  const double z_tip = apex_z_ - 8, z_top = femur_[0].head_centre_mm[2] + 95;
  if (p[2] < z_tip - 10) return 10 + z_tip - p[2];
  double t = clamp01((p[2] - z_tip) / (z_top - z_tip));
  double ax = 8 + 44 * t, ay = 6 + 14 * t;
  double zr = std::min(p[2], rect_z_hi_);
  double yc = rectum_centre_y(zr) + rectum_radius(zr) + 8 + ay;
  return std::max(ellipse_field(p[0], p[1] - yc, ax, ay), z_tip - p[2]);
}

double PelvisAnatomy::ilium(const Vec3& p, int side) const {
  // Iliac wing: a curved plate flaring laterally above the acetabular roof, from the
  // anterior superior iliac spine round to the sacroiliac joint.
  const FemurSide& f = femur_[side > 0 ? 0 : 1];
  double hx = std::abs(f.head_centre_mm[0]), hz = f.head_centre_mm[2];
  double dz = p[2] - hz;
  double a = hx - 15 + 0.55 * dz, b = 62 + 0.25 * dz, ye = prostate_.centre_mm[1] + 18;
  double t = 9 + 16 * clamp01(1 - (dz - f.head_radius_mm) / 45);
  double band = std::abs(ellipse_field(p[0], p[1] - ye, a, b)) - t / 2;
  return std::max({band, ye - 0.3 * b - p[1], 30 - side * p[0], hz + f.head_radius_mm - p[2],
                   p[2] - (hz + 100)});
}

double PelvisAnatomy::hip(const Vec3& p, int side) const {
  const FemurSide& f = femur_[side > 0 ? 0 : 1];
  const Vec3& h = f.head_centre_mm;
  const double rh = f.head_radius_mm;
  double d = norm(sub(p, h));
  double femur = std::min({d - rh, f.neck.field(p), f.shaft.field(p),
                           norm(sub(p, f.trochanter_mm)) - f.trochanter_radius_mm});
  double acet = std::max({d - (rh + 11), (rh + 2.5) - d,
                          dot(sub(p, h), f.acetabulum_opening) - 0.25 * rh});
  double pelvis = std::min({f.pubis.field(p), f.tuberosity.field(p), f.superior_ramus.field(p),
                            f.inferior_ramus.field(p), f.ischium.field(p)});
  return std::min({femur, acet, pelvis});
}

double PelvisAnatomy::bone(const Vec3& p) const {
  // Cheap rejection: below the ischial tuberosities only the femoral shafts are bone.
  if (p[2] < apex_z_ - 60 && std::abs(p[0]) < 40) return 50;
  double b = sacrum(p);
  for (int side : {1, -1}) {
    if (side * p[0] < -25) continue;  // the other half of the pelvis
    b = std::min({b, hip(p, side), ilium(p, side)});
  }
  return b;
}

std::map<std::string, double> PelvisAnatomy::analytic_volumes_cc() const {
  std::map<std::string, double> v;
  v["Prostate"] = prostate_.volume_cc();
  v["Bladder"] = bladder_.volume_cc();
  // Sphere minus the cap beyond the neck plane: cap height h, V_cap = pi h^2 (3r - h) / 3.
  const char* names[2] = {"FemoralHead_L", "FemoralHead_R"};
  for (int i = 0; i < 2; ++i) {
    double r = femur_[i].head_radius_mm, h = r - femur_[i].head_cut_mm;
    v[names[i]] = (4.0 / 3.0 * kPi * r * r * r - kPi * h * h * (3 * r - h) / 3.0) / 1000.0;
  }
  return v;
}

}  // namespace vmatplan::phantom
