#include "vmatplan/report/dose_slices.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <map>
#include <sstream>

#include "vmatplan/report/dvh_svg.h"
#include "vmatplan/report/png.h"
#include "report_text.h"

namespace vmatplan {
namespace {

using report_text::num;

std::string hex(const std::array<uint8_t, 3>& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

// Isodose line colours, highest level first (as planning systems tend to show them).
const char* isodose_color(size_t i) {
  static const char* k[] = {"#ff1a1a", "#ffa000", "#00d000", "#1e90ff", "#c000c0", "#ffffff"};
  return k[std::min<size_t>(i, 5)];
}

// A view: the display axes in LPS (h to the right, v downwards) and the fixed axis.
struct View {
  const char* name;
  int h_axis, v_axis, fixed_axis;
  double h_sign, v_sign;
  const char *left, *right, *top, *bottom;  // orientation letters
};
const View kViews[] = {
    {"axial", 0, 1, 2, +1, +1, "R", "L", "A", "P"},
    {"sagittal", 1, 2, 0, +1, -1, "A", "P", "S", "I"},
    {"coronal", 0, 2, 1, +1, -1, "R", "L", "S", "I"},
};

// The physical extent of the CT (voxel edges) along each LPS axis.
void ct_extent(const ImageGrid& g, Vec3& lo, Vec3& hi) {
  lo = {1e300, 1e300, 1e300};
  hi = {-1e300, -1e300, -1e300};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? g.size[0] - 0.5 : -0.5, (c & 2) ? g.size[1] - 0.5 : -0.5,
                   (c & 4) ? g.size[2] - 0.5 : -0.5};
    const Vec3 p = g.index_to_physical(idx);
    for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
  }
}

// Maps pixel (u, v) of a slice to continuous indices of a grid: idx = i0 + u du + v dv.
struct PixelToIndex {
  Vec3 i0, du, dv;
  PixelToIndex(const ImageGrid& g, const Vec3& p00, const Vec3& step_u, const Vec3& step_v) {
    i0 = g.physical_to_index(p00);
    const Vec3 a = g.physical_to_index({p00[0] + step_u[0], p00[1] + step_u[1], p00[2] + step_u[2]});
    const Vec3 b = g.physical_to_index({p00[0] + step_v[0], p00[1] + step_v[1], p00[2] + step_v[2]});
    for (int c = 0; c < 3; ++c) du[c] = a[c] - i0[c], dv[c] = b[c] - i0[c];
  }
  Vec3 at(int u, int v) const {
    return {i0[0] + u * du[0] + v * dv[0], i0[1] + u * du[1] + v * dv[1], i0[2] + u * du[2] + v * dv[2]};
  }
};

bool nearest(const ImageGrid& g, const Vec3& idx, int64_t& linear) {
  const int64_t i = std::llround(idx[0]), j = std::llround(idx[1]), k = std::llround(idx[2]);
  if (!g.contains_index(i, j, k)) return false;
  linear = g.linear_index(i, j, k);
  return true;
}

Vec3 target_centre(const Patient& p, const PlanEvaluation& e, std::string* name) {
  const Structure* s = e.targets.empty() ? nullptr : p.find_structure(e.targets.front().structure);
  if (s) {
    Vec3 sum{0, 0, 0};
    int64_t n = 0;
    const ImageGrid& g = s->mask.grid;
    for (int64_t k = 0; k < g.size[2]; ++k)
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i)
          if (s->mask.voxels[g.linear_index(i, j, k)]) {
            sum[0] += i, sum[1] += j, sum[2] += k;
            ++n;
          }
    if (n > 0) {
      *name = s->name;
      return g.index_to_physical({sum[0] / n, sum[1] / n, sum[2] / n});
    }
  }
  *name = "CT centre";
  const ImageGrid& g = p.ct_hu.grid;
  return g.index_to_physical({(g.size[0] - 1) / 2.0, (g.size[1] - 1) / 2.0, (g.size[2] - 1) / 2.0});
}

Vec3 dose_maximum(const DoseImage& d, float* max_gy) {
  size_t best = 0;
  for (size_t i = 1; i < d.voxels.size(); ++i)
    if (d.voxels[i] > d.voxels[best]) best = i;
  *max_gy = d.voxels.empty() ? 0.0f : d.voxels[best];
  const int64_t nx = d.grid.size[0], ny = d.grid.size[1];
  const int64_t i = best % nx, j = (best / nx) % ny, k = best / (nx * ny);
  return d.grid.index_to_physical({double(i), double(j), double(k)});
}

struct Styles {
  std::map<std::string, std::array<uint8_t, 3>> color;  // by structure name
  double rx_gy = 0, wash_min_gy = 0, wash_max_gy = 1;
};

std::string render_one(const Patient& patient, const DoseImage& dose, const View& view,
                       const Vec3& point, const std::string& title, const std::string& id,
                       const Styles& st, const DoseSliceOptions& o) {
  const ImageGrid& cg = patient.ct_hu.grid;
  Vec3 lo, hi;
  ct_extent(cg, lo, hi);
  const double ext_h = hi[view.h_axis] - lo[view.h_axis], ext_v = hi[view.v_axis] - lo[view.v_axis];
  const double finest = std::min({cg.spacing_mm[0], cg.spacing_mm[1], cg.spacing_mm[2]});
  const double px = std::max(finest, std::max(ext_h, ext_v) / std::max(16, o.max_pixels));
  const int W = std::max(1, int(std::ceil(ext_h / px))), H = std::max(1, int(std::ceil(ext_v / px)));

  // Centre of pixel (0, 0) and the steps of one pixel to the right and one down.
  Vec3 p00 = point, su{0, 0, 0}, sv{0, 0, 0};
  p00[view.h_axis] = (view.h_sign > 0 ? lo : hi)[view.h_axis] + view.h_sign * 0.5 * px;
  p00[view.v_axis] = (view.v_sign > 0 ? lo : hi)[view.v_axis] + view.v_sign * 0.5 * px;
  su[view.h_axis] = view.h_sign * px;
  sv[view.v_axis] = view.v_sign * px;
  const PixelToIndex ct_map(cg, p00, su, sv), dose_map(dose.grid, p00, su, sv);

  std::vector<uint8_t> rgb(size_t(3) * W * H);
  std::vector<float> dose_px(size_t(W) * H);
  const double w0 = o.window_center_hu - 0.5 * o.window_width_hu;
  for (int v = 0; v < H; ++v)
    for (int u = 0; u < W; ++u) {
      int64_t lin = 0;
      const double hu = nearest(cg, ct_map.at(u, v), lin) ? patient.ct_hu.voxels[lin] : -1000.0;
      const double grey = std::clamp((hu - w0) / o.window_width_hu, 0.0, 1.0) * 255.0;
      const double d = sample_dose_at_index(dose, dose_map.at(u, v), 0.0);
      dose_px[size_t(v) * W + u] = static_cast<float>(d);
      double r = grey, g = grey, b = grey;
      if (d >= st.wash_min_gy && d > 0) {
        const double t = (d - st.wash_min_gy) / std::max(1e-9, st.wash_max_gy - st.wash_min_gy);
        const auto c = dose_colormap(t);
        const double a = o.wash_alpha;
        r = (1 - a) * grey + a * c[0], g = (1 - a) * grey + a * c[1], b = (1 - a) * grey + a * c[2];
      }
      uint8_t* q = &rgb[(size_t(v) * W + u) * 3];
      q[0] = uint8_t(std::lround(r)), q[1] = uint8_t(std::lround(g)), q[2] = uint8_t(std::lround(b));
    }

  const double s = o.display_px / std::max(W, H);  // display pixels per raster pixel
  const double img_w = W * s, img_h = H * s;
  const double top = 24, bar_x = img_w + 18, bar_w = 14;
  const double total_w = img_w + 110, total_h = std::max(img_h, 240.0) + top + 6;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(total_w, "%.0f") << "\" height=\""
      << num(total_h, "%.0f") << "\" viewBox=\"0 0 " << num(total_w, "%.0f") << " " << num(total_h, "%.0f")
      << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg << "<text x=\"2\" y=\"15\" font-size=\"12\">" << xml_escape(title) << "</text>\n";
  svg << "<g transform=\"translate(0," << num(top, "%.0f") << ")\">\n";
  svg << "<image width=\"" << num(img_w) << "\" height=\"" << num(img_h)
      << "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,"
      << base64_encode(encode_png_rgb(W, H, rgb)) << "\"/>\n";

  // Structure outlines (nearest-neighbour mask samples), then isodose lines on top.
  for (const Structure& str : patient.structures) {
    std::vector<float> m(size_t(W) * H, 0.0f);
    bool any = false;
    const PixelToIndex mm(str.mask.grid, p00, su, sv);
    for (int v = 0; v < H; ++v)
      for (int u = 0; u < W; ++u) {
        int64_t lin = 0;
        if (nearest(str.mask.grid, mm.at(u, v), lin) && str.mask.voxels[lin])
          m[size_t(v) * W + u] = 1.0f, any = true;
      }
    if (!any) continue;
    auto it = st.color.find(str.name);
    const std::string color = it != st.color.end() ? hex(it->second) : hex(str.color_rgb);
    svg << "<path fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.2\" d=\""
        << contour_path(m, W, H, 0.5, s) << "\"><title>" << xml_escape(str.name) << "</title></path>\n";
  }
  for (size_t i = 0; i < o.isodose_pct.size(); ++i) {
    const double level = st.rx_gy * o.isodose_pct[i] / 100.0;
    const std::string d = contour_path(dose_px, W, H, level, s);
    if (d.empty()) continue;
    svg << "<path fill=\"none\" stroke=\"" << isodose_color(i) << "\" stroke-width=\"1.6\" d=\"" << d
        << "\"><title>" << num(o.isodose_pct[i], "%g") << " % (" << num(level, "%.1f")
        << " Gy)</title></path>\n";
  }
  // The point the slice goes through, and orientation letters.
  const double mx = (point[view.h_axis] - p00[view.h_axis]) / su[view.h_axis] * s + 0.5 * s;
  const double my = (point[view.v_axis] - p00[view.v_axis]) / sv[view.v_axis] * s + 0.5 * s;
  svg << "<path stroke=\"#ffffff\" stroke-width=\"1\" d=\"M" << num(mx - 6) << " " << num(my) << " h12 M"
      << num(mx) << " " << num(my - 6) << " v12\"/>\n";
  svg << "<g fill=\"#ffffff\" font-weight=\"bold\"><text x=\"3\" y=\"" << num(img_h / 2 + 4) << "\">"
      << view.left << "</text><text x=\"" << num(img_w - 11) << "\" y=\"" << num(img_h / 2 + 4) << "\">"
      << view.right << "</text><text x=\"" << num(img_w / 2 - 3) << "\" y=\"12\">" << view.top
      << "</text><text x=\"" << num(img_w / 2 - 3) << "\" y=\"" << num(img_h - 3) << "\">" << view.bottom
      << "</text></g>\n";

  // Colour bar in Gy with the isodose levels marked.
  const double bar_h = std::max(img_h, 240.0) - 20, bar_y = 10;
  svg << "<defs><linearGradient id=\"wash_" << id << "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 10; ++k)
    svg << "<stop offset=\"" << num(k / 10.0, "%.1f") << "\" stop-color=\"" << hex(dose_colormap(k / 10.0)) << "\"/>";
  svg << "</linearGradient></defs>\n";
  svg << "<rect x=\"" << num(bar_x) << "\" y=\"" << num(bar_y) << "\" width=\"" << num(bar_w) << "\" height=\""
      << num(bar_h) << "\" fill=\"url(#wash_" << id << ")\" stroke=\"#444\" stroke-width=\"0.5\"/>\n";
  auto bar_pos = [&](double gy) {
    const double t = (gy - st.wash_min_gy) / std::max(1e-9, st.wash_max_gy - st.wash_min_gy);
    return bar_y + bar_h * (1.0 - std::clamp(t, 0.0, 1.0));
  };
  for (double t : nice_ticks(st.wash_max_gy, 6)) {
    if (t < st.wash_min_gy - 1e-9 || t > st.wash_max_gy + 1e-9) continue;
    const double y = bar_pos(t);
    svg << "<line x1=\"" << num(bar_x + bar_w) << "\" x2=\"" << num(bar_x + bar_w + 4) << "\" y1=\"" << num(y)
        << "\" y2=\"" << num(y) << "\" stroke=\"#444\"/><text x=\"" << num(bar_x + bar_w + 6) << "\" y=\""
        << num(y + 4) << "\">" << num(t, "%g") << "</text>\n";
  }
  svg << "<text x=\"" << num(bar_x - 2) << "\" y=\"" << num(bar_y + bar_h + 14) << "\">Gy</text>\n";
  for (size_t i = 0; i < o.isodose_pct.size(); ++i) {
    const double y = bar_pos(st.rx_gy * o.isodose_pct[i] / 100.0);
    svg << "<line x1=\"" << num(bar_x - 4) << "\" x2=\"" << num(bar_x + bar_w) << "\" y1=\"" << num(y)
        << "\" y2=\"" << num(y) << "\" stroke=\"" << isodose_color(i) << "\" stroke-width=\"2\"/>"
        << "<text x=\"" << num(bar_x + bar_w + 34) << "\" y=\"" << num(y + 4) << "\" fill=\""
        << isodose_color(i) << "\">" << num(o.isodose_pct[i], "%g") << "%</text>\n";
  }
  svg << "</g>\n</svg>\n";
  return svg.str();
}

}  // namespace

std::array<uint8_t, 3> dose_colormap(double t) {
  static const double k[5][3] = {{0, 0, 255}, {0, 255, 255}, {0, 255, 0}, {255, 255, 0}, {255, 0, 0}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, int(t));
  const double f = t - i;
  std::array<uint8_t, 3> c{};
  for (int a = 0; a < 3; ++a) c[a] = uint8_t(std::lround(k[i][a] + f * (k[i + 1][a] - k[i][a])));
  return c;
}

std::string contour_path(const std::vector<float>& f, int W, int H, double level, double scale) {
  std::string out;
  char buf[96];
  auto value = [&](int u, int v) { return double(f[size_t(v) * W + u]); };
  // Crossing on the edge between two corners (x, y in pixel-centre units).
  auto lerp = [&](double x0, double y0, double f0, double x1, double y1, double f1, double& x, double& y) {
    const double t = (level - f0) / (f1 - f0);
    x = x0 + t * (x1 - x0), y = y0 + t * (y1 - y0);
  };
  for (int v = 0; v + 1 < H; ++v)
    for (int u = 0; u + 1 < W; ++u) {
      const double a = value(u, v), b = value(u + 1, v), c = value(u + 1, v + 1), d = value(u, v + 1);
      const int code = (a >= level) | ((b >= level) << 1) | ((c >= level) << 2) | ((d >= level) << 3);
      if (code == 0 || code == 15) continue;
      // Edge crossings: 0 top (a-b), 1 right (b-c), 2 bottom (d-c), 3 left (a-d).
      double ex[4], ey[4];
      bool on[4] = {(a >= level) != (b >= level), (b >= level) != (c >= level),
                    (d >= level) != (c >= level), (a >= level) != (d >= level)};
      if (on[0]) lerp(u, v, a, u + 1, v, b, ex[0], ey[0]);
      if (on[1]) lerp(u + 1, v, b, u + 1, v + 1, c, ex[1], ey[1]);
      if (on[2]) lerp(u, v + 1, d, u + 1, v + 1, c, ex[2], ey[2]);
      if (on[3]) lerp(u, v, a, u, v + 1, d, ex[3], ey[3]);
      int e[4], n = 0;
      for (int k = 0; k < 4; ++k)
        if (on[k]) e[n++] = k;
      // Two crossings: one segment; four (saddle): pair each edge with its neighbour.
      const int pairs[2][2] = {{e[0], e[1]}, {e[2 % n], e[3 % n]}};
      for (int p = 0; p < n / 2; ++p) {
        const int s0 = pairs[p][0], s1 = pairs[p][1];
        std::snprintf(buf, sizeof buf, "M%.1f %.1fL%.1f %.1f", (ex[s0] + 0.5) * scale,
                      (ey[s0] + 0.5) * scale, (ex[s1] + 0.5) * scale, (ey[s1] + 0.5) * scale);
        out += buf;
      }
    }
  return out;
}

std::vector<DoseSlice> render_dose_slices(const Patient& patient, const DoseImage& dose,
                                          const PlanEvaluation& e, const DoseSliceOptions& o) {
  std::vector<DoseSlice> out;
  if (patient.ct_hu.empty() || dose.empty()) return out;
  Styles st;
  for (const auto& s : e.structures) st.color[s.name] = s.color_rgb;
  float max_gy = 0;
  const Vec3 max_point = dose_maximum(dose, &max_gy);
  st.rx_gy = e.prescription.targets.empty() ? e.prescription.total_dose_gy
                                            : e.prescription.targets.front().dose_gy;
  if (!(st.rx_gy > 0)) st.rx_gy = max_gy;
  st.wash_min_gy = st.rx_gy * o.wash_min_pct / 100.0;
  st.wash_max_gy = std::max<double>(max_gy, st.rx_gy);
  std::string target_name;
  const Vec3 centre = target_centre(patient, e, &target_name);
  const char* axis_name[] = {"x", "y", "z"};
  for (int t = 0; t < 2; ++t) {
    const Vec3& p = t == 0 ? centre : max_point;
    for (const View& v : kViews) {
      DoseSlice s;
      s.view = v.name;
      s.through = t == 0 ? "target" : "max";
      s.point_mm = p;
      std::string view_name = v.name;
      view_name[0] = char(std::toupper(static_cast<unsigned char>(view_name[0])));
      s.title = view_name + " " + axis_name[v.fixed_axis] + " = " + num(p[v.fixed_axis]) + " mm, through " +
                (t == 0 ? "the centre of " + target_name
                        : "the dose maximum (" + num(max_gy, "%.2f") + " Gy)");
      s.file_name = "dose_" + s.view + "_" + s.through + ".svg";
      s.svg = render_one(patient, dose, v, p, s.title, s.view + "_" + s.through, st, o);
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace vmatplan
