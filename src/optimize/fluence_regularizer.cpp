// The non-dose terms of the fluence objective (see fluence_regularizer.h).
#include "vmatplan/optimize/fluence_regularizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace vmatplan {

struct FluenceRegularizer::Impl {
  double transmission = 0, efficiency = 1, norm_p = 8, mu_scale = 0;
  double row_weight = 0, cp_weight = 0, hump_weight = 0;
  bool apertures = false;
  torch::Tensor jaw, cp_pairs;
};

FluenceRegularizer::FluenceRegularizer(const PlanGeometry& geometry, const FluenceGrid& grid,
                                       const FluenceOptimizerOptions& opt, double f_ref)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  std::vector<float> same_beam;
  for (const Beam& b : geometry.beams)
    for (size_t c = 0; c < b.control_points.size(); ++c)
      same_beam.push_back(c + 1 < b.control_points.size() ? 1.0f : 0.0f);
  if (!same_beam.empty()) same_beam.pop_back();  // pairs (c, c+1): one fewer than points
  m.cp_pairs = torch::tensor(same_beam, torch::kFloat).view({-1, 1, 1});
  m.transmission = opt.leaf_transmission;
  m.efficiency = opt.sweep_efficiency > 0 ? opt.sweep_efficiency : 1.0;
  m.apertures = opt.delivery_model == FluenceOptimizerOptions::DeliveryModel::kApertures;
  m.norm_p = opt.max_norm_p;
  const double rx_fx = opt.prescription_gy / std::max(1, opt.fractions);
  m.mu_scale = opt.mu_weight * rx_fx / (100.0 * std::max(1, opt.fractions));
  m.jaw = jaw_overlap(geometry, grid);
  const double scale = opt.prescription_gy * opt.prescription_gy / (f_ref * f_ref);
  m.row_weight = opt.row_smoothness_weight * scale;
  m.cp_weight = opt.cp_smoothness_weight * scale;
  m.hump_weight = m.apertures ? opt.single_hump_weight * scale : 0.0;
}

FluenceRegularizer::~FluenceRegularizer() = default;
FluenceRegularizer::FluenceRegularizer(FluenceRegularizer&&) noexcept = default;
FluenceRegularizer& FluenceRegularizer::operator=(FluenceRegularizer&&) noexcept = default;

at::Tensor FluenceRegularizer::value(const at::Tensor& x) const {
  const Impl& m = *impl_;
  torch::Tensor r = torch::zeros({}, torch::kFloat);
  if (m.row_weight > 0 && x.size(2) > 1) {
    torch::Tensor dr = x.slice(2, 1) - x.slice(2, 0, -1);
    r = r + m.row_weight * dr.pow(2).mean();
  }
  if (m.cp_weight > 0 && x.size(0) > 1) {
    torch::Tensor dc = (x.slice(0, 1) - x.slice(0, 0, -1)) * m.cp_pairs;
    r = r + m.cp_weight * dc.pow(2).mean();
  }
  if (m.mu_scale > 0) r = r + m.mu_scale * control_point_mu(x).sum();
  if (m.hump_weight > 0 && x.size(2) > 1) {
    torch::Tensor rise = torch::relu(x.slice(2, 1) - x.slice(2, 0, -1)).sum(2) + torch::relu(x.select(2, 0));
    torch::Tensor excess = rise - std::get<0>(x.max(2));  // [C, rows], >= 0
    r = r + m.hump_weight * excess.pow(2).mean();
  }
  return r;
}

at::Tensor FluenceRegularizer::control_point_mu(const at::Tensor& x) const {
  const Impl& m = *impl_;
  if (m.apertures) {
    // p-norm of the map, scaled by its maximum first so that x^p cannot overflow.
    torch::Tensor flat = torch::relu(x).flatten(1);
    torch::Tensor peak = std::get<0>(flat.max(1)).detach().clamp_min(1e-12).unsqueeze(1);
    return (flat / peak).pow(m.norm_p).sum(1).pow(1.0 / m.norm_p) * peak.squeeze(1);
  }
  torch::Tensor rise = torch::relu(x.slice(2, 1) - x.slice(2, 0, -1)).sum(2) + torch::relu(x.select(2, 0));
  return std::get<0>(rise.max(1)) / m.efficiency;
}

at::Tensor FluenceRegularizer::delivered(const at::Tensor& x) const {
  const Impl& m = *impl_;
  const torch::Tensor jaw = m.jaw.to(x.dtype());
  if (!(m.transmission > 0)) return jaw * x;
  return jaw * (x + m.transmission * (control_point_mu(x).view({-1, 1, 1}) - x));
}

const at::Tensor& FluenceRegularizer::jaw() const { return impl_->jaw; }
const at::Tensor& FluenceRegularizer::cp_pairs() const { return impl_->cp_pairs; }

}  // namespace vmatplan
