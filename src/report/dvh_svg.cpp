#include "vmatplan/report/dvh_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include "report_text.h"

namespace vmatplan {
namespace {

using report_text::num;

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::round(v * 1000.0) / 1000.0);
  return buf;
}

// Structure colours come from the RTSTRUCT; very light ones (white on white) are darkened.
std::string css_color(const std::array<uint8_t, 3>& c) {
  double r = c[0], g = c[1], b = c[2];
  const double luma = 0.299 * r + 0.587 * g + 0.114 * b;
  if (luma > 160) {
    const double f = 160.0 / luma;
    r *= f, g *= f, b *= f;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(r), int(g), int(b));
  return buf;
}

}  // namespace

std::string xml_escape(const std::string& t) {
  std::string out;
  for (char c : t) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double max, int target_count) {
  if (!(max > 0)) max = 1.0;
  const double raw = max / std::max(1, target_count);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = p;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  std::vector<double> t;
  for (int i = 0;; ++i) {
    t.push_back(i * step);
    if (i * step >= max - 1e-9 * max) break;
  }
  return t;
}

std::string render_dvh_svg(const PlanEvaluation& e, const DvhPlotOptions& o) {
  return render_dvh_comparison_svg({&e}, {}, o);
}

std::string render_dvh_comparison_svg(const std::vector<const PlanEvaluation*>& evals,
                                      const std::vector<std::string>& labels,
                                      const DvhPlotOptions& o) {
  const PlanEvaluation& e = *evals.front();
  double dmax = 0.0;
  for (const PlanEvaluation* ev : evals)
    for (const auto& s : ev->structures) dmax = std::max(dmax, s.metrics.max_gy);
  for (const auto& t : e.prescription.targets) dmax = std::max(dmax, t.dose_gy * 1.05);
  // ~1000 points per structure is plenty for a 700 px wide plot.
  const double step = std::max(nice_ticks(dmax * 1.02, 10).back() / 1000.0, 0.01);
  std::vector<DvhPlotSeries> series;
  for (size_t k = 0; k < evals.size(); ++k) {
    DvhPlotSeries one{k < labels.size() ? labels[k] : (evals.size() > 1 ? std::to_string(k + 1) : ""), {}};
    for (const auto& st : evals[k]->structures)
      one.curves.push_back({st.name, st.color_rgb, st.dvh.empty() ? std::vector<Dvh::Point>{} : st.dvh.curve(step)});
    series.push_back(std::move(one));
  }
  DvhPlotOptions options = o;
  if (options.title.empty()) options.title = "Cumulative DVH \xe2\x80\x93 " + e.protocol_name;
  return render_dvh_curves_svg(series, e.prescription.targets, options);
}

std::string render_dvh_curves_svg(const std::vector<DvhPlotSeries>& series,
                                  const std::vector<TargetLevel>& prescription,
                                  const DvhPlotOptions& o) {
  static const char* kDash[] = {"", "8,4", "2,3", "12,3,2,3"};
  const double W = o.width_px, H = o.height_px;
  const double left = 70, right = 230, top = 46, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;

  double dmax = 0.0;
  for (const auto& one : series)
    for (const auto& c : one.curves)
      for (const auto& p : c.points) dmax = std::max(dmax, p.dose_gy);
  for (const auto& t : prescription) dmax = std::max(dmax, t.dose_gy * 1.05);
  const std::vector<double> xt = nice_ticks(dmax * 1.02, 10);
  const double xmax = xt.back();
  auto X = [&](double d) { return left + pw * d / xmax; };
  auto Y = [&](double v) { return top + ph * (1.0 - v / 100.0); };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  s << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H << "\" fill=\"white\"/>\n";
  const std::string title = o.title.empty() ? std::string("Cumulative DVH") : o.title;
  s << "<text x=\"" << num(left + pw / 2) << "\" y=\"26\" font-size=\"17\" text-anchor=\"middle\">"
    << xml_escape(title) << "</text>\n";

  // Grid and ticks.
  s << "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double t : xt)
    s << "<line x1=\"" << num(X(t)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(X(t))
      << "\" y2=\"" << num(top + ph) << "\"/>\n";
  for (int v = 0; v <= 100; v += 10)
    s << "<line x1=\"" << num(left) << "\" y1=\"" << num(Y(v)) << "\" x2=\"" << num(left + pw)
      << "\" y2=\"" << num(Y(v)) << "\"/>\n";
  s << "</g>\n<g font-size=\"12\" fill=\"#222222\">\n";
  for (double t : xt)
    s << "<line x1=\"" << num(X(t)) << "\" y1=\"" << num(top + ph) << "\" x2=\"" << num(X(t))
      << "\" y2=\"" << num(top + ph + 5) << "\" stroke=\"black\"/><text x=\"" << num(X(t))
      << "\" y=\"" << num(top + ph + 19) << "\" text-anchor=\"middle\">" << tick_label(t)
      << "</text>\n";
  for (int v = 0; v <= 100; v += 10)
    s << "<line x1=\"" << num(left - 5) << "\" y1=\"" << num(Y(v)) << "\" x2=\"" << num(left)
      << "\" y2=\"" << num(Y(v)) << "\" stroke=\"black\"/><text x=\"" << num(left - 8)
      << "\" y=\"" << num(Y(v) + 4) << "\" text-anchor=\"end\">" << v << "</text>\n";
  s << "</g>\n";
  s << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(pw)
    << "\" height=\"" << num(ph) << "\" fill=\"none\" stroke=\"black\"/>\n";
  s << "<text x=\"" << num(left + pw / 2) << "\" y=\"" << num(H - 16)
    << "\" font-size=\"14\" text-anchor=\"middle\">Dose (Gy)</text>\n";
  s << "<text transform=\"translate(20," << num(top + ph / 2)
    << ") rotate(-90)\" font-size=\"14\" text-anchor=\"middle\">Volume (%)</text>\n";

  // Curves.
  for (size_t k = 0; k < series.size(); ++k)
    for (const auto& c : series[k].curves) {
      if (c.points.empty()) continue;
      s << "<polyline fill=\"none\" stroke=\"" << css_color(c.color_rgb) << "\" stroke-width=\"2\"";
      if (*kDash[k % 4]) s << " stroke-dasharray=\"" << kDash[k % 4] << "\"";
      s << " points=\"";
      for (const auto& p : c.points) s << num(X(p.dose_gy)) << "," << num(Y(p.volume_pct)) << " ";
      const std::string& label = series[k].label;
      s << "\"><title>" << xml_escape(c.name + (label.empty() ? "" : " (" + label + ")"))
        << "</title></polyline>\n";
    }

  // Prescription levels.
  for (const auto& t : prescription) {
    s << "<line x1=\"" << num(X(t.dose_gy)) << "\" y1=\"" << num(top) << "\" x2=\""
      << num(X(t.dose_gy)) << "\" y2=\"" << num(top + ph)
      << "\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>\n";
    s << "<text x=\"" << num(X(t.dose_gy) - 4) << "\" y=\"" << num(top + 14)
      << "\" font-size=\"12\" text-anchor=\"end\">Rx " << tick_label(t.dose_gy) << " Gy ("
      << xml_escape(t.role) << ")</text>\n";
  }

  // Legend, right of the plot.
  const double lx = left + pw + 18;
  double ly = top + 8;
  s << "<g font-size=\"12\">\n";
  s << "<text x=\"" << num(lx) << "\" y=\"" << num(ly) << "\" font-weight=\"bold\">Structures</text>\n";
  for (const auto& st : series.front().curves) {
    ly += 20;
    s << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(lx + 24)
      << "\" y2=\"" << num(ly - 4) << "\" stroke=\"" << css_color(st.color_rgb)
      << "\" stroke-width=\"3\"/><text x=\"" << num(lx + 30) << "\" y=\"" << num(ly) << "\">"
      << xml_escape(st.name.size() > 24 ? st.name.substr(0, 23) + "\xe2\x80\xa6" : st.name)
      << "</text>\n";
  }
  if (!prescription.empty()) {
    ly += 20;
    s << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(lx + 24)
      << "\" y2=\"" << num(ly - 4)
      << "\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/><text x=\""
      << num(lx + 30) << "\" y=\"" << num(ly) << "\">Prescription</text>\n";
  }
  if (series.size() > 1) {
    ly += 28;
    s << "<text x=\"" << num(lx) << "\" y=\"" << num(ly) << "\" font-weight=\"bold\">Doses</text>\n";
    for (size_t k = 0; k < series.size(); ++k) {
      ly += 20;
      s << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(lx + 24)
        << "\" y2=\"" << num(ly - 4) << "\" stroke=\"#333\" stroke-width=\"2\"";
      if (*kDash[k % 4]) s << " stroke-dasharray=\"" << kDash[k % 4] << "\"";
      const std::string& label = series[k].label;
      s << "/><text x=\"" << num(lx + 30) << "\" y=\"" << num(ly) << "\">"
        << xml_escape(label.size() > 24 ? label.substr(0, 23) + "\xe2\x80\xa6" : label) << "</text>\n";
    }
  }
  s << "</g>\n</svg>\n";
  return s.str();
}

}  // namespace vmatplan
