#include "sample_plane_convolution.h"

#include <algorithm>
#include <cmath>

#include "pencil_beam_setup.h"

namespace vmatplan::detail {
namespace {
constexpr double kNegligible = 1e-9;
}

PlaneConvolution::PlaneConvolution(const FluenceGrid& grid, const SamplePlane& plane,
                                   const BeamModel& model)
    : grid_(grid), plane_(plane) {
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  const int h = static_cast<int>(plane.height), w = static_cast<int>(plane.width);
  std::vector<double> col_edges(bixels + 1);
  for (int b = 0; b <= bixels; ++b) col_edges[b] = grid.x_min_mm + b * grid.bixel_width_mm;
  auto range = [](auto value, int n, int& lo, int& hi) {
    lo = n, hi = 0;
    for (int i = 0; i < n; ++i)
      if (std::abs(value(i)) > kNegligible) lo = std::min(lo, i), hi = i + 1;
    if (lo >= hi) lo = hi = 0;
  };
  for (const KernelComponent& k : model.components) {
    Component m;
    m.rows = cell_integral_matrix(grid.row_edges_mm, plane.y0_mm, plane.step_mm, h, k.sigma_mm);
    const std::vector<double> ex = cell_integral_matrix(col_edges, plane.x0_mm, plane.step_mm, w, k.sigma_mm);
    m.cols.resize(static_cast<size_t>(bixels) * w);
    for (int x = 0; x < w; ++x)
      for (int b = 0; b < bixels; ++b) m.cols[static_cast<size_t>(b) * w + x] = ex[static_cast<size_t>(x) * bixels + b];
    m.row_lo.resize(rows), m.row_hi.resize(rows);
    for (int r = 0; r < rows; ++r)
      range([&](int y) { return m.rows[static_cast<size_t>(y) * rows + r]; }, h, m.row_lo[r], m.row_hi[r]);
    m.col_lo.resize(bixels), m.col_hi.resize(bixels);
    for (int b = 0; b < bixels; ++b)
      range([&](int x) { return m.cols[static_cast<size_t>(b) * w + x]; }, w, m.col_lo[b], m.col_hi[b]);
    mats_.push_back(std::move(m));
  }
}

template <class T>
bool PlaneConvolution::forward(const T* f, T* plane, PlaneScratch<T>& s) const {
  const int rows = grid_.row_count(), bixels = grid_.bixel_count, K = components();
  const int w = static_cast<int>(plane_.width), h = static_cast<int>(plane_.height);
  std::vector<int> live;
  for (int r = 0; r < rows; ++r)
    for (int b = 0; b < bixels; ++b)
      if (f[r * bixels + b] != 0) {
        live.push_back(r);
        break;
      }
  if (live.empty()) return false;
  s.g.resize(static_cast<size_t>(rows) * w);
  s.line.resize(w);
  std::fill(plane, plane + plane_size(), T(0));
  for (int k = 0; k < K; ++k) {
    const Component& m = mats_[k];
    int x_lo = w, x_hi = 0, y_lo = h, y_hi = 0;
    for (int r : live) {  // along x: g[r][x] = sum_b f[r][b] E_x[x][b]
      T* gr = &s.g[static_cast<size_t>(r) * w];
      std::fill(gr, gr + w, T(0));
      for (int b = 0; b < bixels; ++b) {
        const T v = f[r * bixels + b];
        if (v == 0 || m.col_lo[b] >= m.col_hi[b]) continue;
        const double* c = &m.cols[static_cast<size_t>(b) * w];
        for (int x = m.col_lo[b]; x < m.col_hi[b]; ++x) gr[x] += v * static_cast<T>(c[x]);
        x_lo = std::min(x_lo, m.col_lo[b]), x_hi = std::max(x_hi, m.col_hi[b]);
      }
      y_lo = std::min(y_lo, m.row_lo[r]), y_hi = std::max(y_hi, m.row_hi[r]);
    }
    for (int y = y_lo; y < y_hi; ++y) {  // along y: P[y][x] = sum_r E_y[y][r] g[r][x]
      T* line = s.line.data();
      std::fill(line + x_lo, line + x_hi, T(0));
      bool any = false;
      for (int r : live) {
        if (y < m.row_lo[r] || y >= m.row_hi[r]) continue;
        const T e = static_cast<T>(m.rows[static_cast<size_t>(y) * rows + r]);
        const T* gr = &s.g[static_cast<size_t>(r) * w];
        for (int x = x_lo; x < x_hi; ++x) line[x] += e * gr[x];
        any = true;
      }
      if (!any) continue;
      T* out = plane + static_cast<size_t>(y) * w * K + k;
      for (int x = x_lo; x < x_hi; ++x) out[static_cast<size_t>(x) * K] = line[x];
    }
  }
  return true;
}

template <class T>
void PlaneConvolution::backward(const T* grad_plane, T* grad_f, PlaneScratch<T>& s) const {
  const int rows = grid_.row_count(), bixels = grid_.bixel_count, K = components();
  const int w = static_cast<int>(plane_.width), h = static_cast<int>(plane_.height);
  std::fill(grad_f, grad_f + static_cast<size_t>(rows) * bixels, T(0));
  s.g.resize(static_cast<size_t>(h) * bixels);
  s.line.resize(w);
  for (int k = 0; k < K; ++k) {
    const Component& m = mats_[k];
    int y_lo = h, y_hi = 0;
    for (int r = 0; r < rows; ++r) y_lo = std::min(y_lo, m.row_lo[r]), y_hi = std::max(y_hi, m.row_hi[r]);
    for (int y = y_lo; y < y_hi; ++y) {  // t[y][b] = sum_x G[y][x][k] E_x[x][b]
      T* line = s.line.data();
      const T* gp = grad_plane + static_cast<size_t>(y) * w * K + k;
      bool any = false;
      for (int x = 0; x < w; ++x) line[x] = gp[static_cast<size_t>(x) * K], any = any || line[x] != 0;
      T* t = &s.g[static_cast<size_t>(y) * bixels];
      if (!any) {  // a zero row of a sparse gradient (see gather_backward) adds nothing
        std::fill(t, t + bixels, T(0));
        continue;
      }
      for (int b = 0; b < bixels; ++b) {
        const double* c = &m.cols[static_cast<size_t>(b) * w];
        T sum = 0;
        for (int x = m.col_lo[b]; x < m.col_hi[b]; ++x) sum += line[x] * static_cast<T>(c[x]);
        t[b] = sum;
      }
    }
    for (int r = 0; r < rows; ++r) {  // grad_f[r][b] += sum_y E_y[y][r] t[y][b]
      T* gf = grad_f + static_cast<size_t>(r) * bixels;
      for (int y = m.row_lo[r]; y < m.row_hi[r]; ++y) {
        const T e = static_cast<T>(m.rows[static_cast<size_t>(y) * rows + r]);
        const T* t = &s.g[static_cast<size_t>(y) * bixels];
        for (int b = 0; b < bixels; ++b) gf[b] += e * t[b];
      }
    }
  }
}

template bool PlaneConvolution::forward<float>(const float*, float*, PlaneScratch<float>&) const;
template bool PlaneConvolution::forward<double>(const double*, double*, PlaneScratch<double>&) const;
template void PlaneConvolution::backward<float>(const float*, float*, PlaneScratch<float>&) const;
template void PlaneConvolution::backward<double>(const double*, double*, PlaneScratch<double>&) const;

}  // namespace vmatplan::detail
