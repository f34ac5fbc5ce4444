// Differentiable objective terms (see objectives.h for the formulas and their sources).
#include "vmatplan/optimize/objectives.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

// Continuous dose-grid index of CT voxel index (i, j, k) is c0 + i*e0 + j*e1 + k*e2 (both
// grids are affine). The dose grid uses the CT's direction cosines, so axis a of the dose
// index depends on CT index a only: one lookup table per axis.
std::array<std::vector<int64_t>, 3> axis_tables(const ImageGrid& ct, const ImageGrid& dose) {
  const Vec3 c0 = dose.physical_to_index(ct.index_to_physical({0, 0, 0}));
  std::array<std::vector<int64_t>, 3> table;
  for (int a = 0; a < 3; ++a) {
    Vec3 unit{0, 0, 0};
    unit[a] = 1;
    const Vec3 ca = dose.physical_to_index(ct.index_to_physical(unit));
    for (int b = 0; b < 3; ++b)
      if (b != a && std::abs(ca[b] - c0[b]) > 1e-6)
        throw ProcessingError("structure resampling: the dose grid's axes are not aligned with the CT's");
    table[a].resize(static_cast<size_t>(ct.size[a]));
    for (int64_t i = 0; i < ct.size[a]; ++i) {
      const int64_t d = static_cast<int64_t>(std::floor(c0[a] + i * (ca[a] - c0[a]) + 0.5));
      table[a][static_cast<size_t>(i)] = (d >= 0 && d < dose.size[a]) ? d : -1;
    }
  }
  return table;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

double VoxelWeights::total() const {
  double s = 0;
  for (double f : fraction) s += f;
  return s;
}

VoxelWeights structure_on_dose_grid(const Mask& mask, const ImageGrid& dose_grid,
                                    const std::vector<int64_t>& compute_voxels) {
  const auto table = axis_tables(mask.grid, dose_grid);
  // CT voxel centres per dose voxel: a product of per-axis counts.
  std::array<std::vector<int64_t>, 3> per_axis;
  for (int a = 0; a < 3; ++a) {
    per_axis[a].assign(static_cast<size_t>(dose_grid.size[a]), 0);
    for (int64_t d : table[a])
      if (d >= 0) ++per_axis[a][static_cast<size_t>(d)];
  }
  std::vector<int32_t> inside(static_cast<size_t>(dose_grid.voxel_count()), 0);
  const Size3& n = mask.grid.size;
  for (int64_t k = 0; k < n[2]; ++k) {
    const int64_t dk = table[2][static_cast<size_t>(k)];
    if (dk < 0) continue;
    for (int64_t j = 0; j < n[1]; ++j) {
      const int64_t dj = table[1][static_cast<size_t>(j)];
      if (dj < 0) continue;
      const uint8_t* row = &mask.voxels[static_cast<size_t>(mask.grid.linear_index(0, j, k))];
      for (int64_t i = 0; i < n[0]; ++i) {
        const int64_t di = table[0][static_cast<size_t>(i)];
        if (row[i] && di >= 0) ++inside[static_cast<size_t>(dose_grid.linear_index(di, dj, dk))];
      }
    }
  }
  VoxelWeights out;
  const int64_t nx = dose_grid.size[0], ny = dose_grid.size[1];
  for (size_t c = 0; c < compute_voxels.size(); ++c) {
    const int64_t v = compute_voxels[c];
    const int32_t count = inside[static_cast<size_t>(v)];
    if (count == 0) continue;
    const int64_t i = v % nx, j = (v / nx) % ny, k = v / (nx * ny);
    const double total = static_cast<double>(per_axis[0][static_cast<size_t>(i)]) *
                         per_axis[1][static_cast<size_t>(j)] * per_axis[2][static_cast<size_t>(k)];
    out.index.push_back(static_cast<int64_t>(c));
    out.fraction.push_back(std::min(1.0, count / total));
  }
  return out;
}

std::vector<double> distance_to_target_mm(const VoxelWeights& target, const ImageGrid& dose_grid,
                                          const std::vector<int64_t>& compute_voxels) {
  std::vector<uint8_t> in(static_cast<size_t>(dose_grid.voxel_count()), 0);
  for (size_t n = 0; n < target.index.size(); ++n)
    if (target.fraction[n] > 0)
      in[static_cast<size_t>(compute_voxels[static_cast<size_t>(target.index[n])])] = 1;
  const Size3& s = dose_grid.size;
  std::vector<Vec3> surface;
  for (int64_t k = 0; k < s[2]; ++k)
    for (int64_t j = 0; j < s[1]; ++j)
      for (int64_t i = 0; i < s[0]; ++i) {
        if (!in[static_cast<size_t>(dose_grid.linear_index(i, j, k))]) continue;
        bool edge = false;
        const int64_t nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k},
                                  {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
        for (const auto& q : nb)
          edge = edge || !dose_grid.contains_index(q[0], q[1], q[2]) ||
                 !in[static_cast<size_t>(dose_grid.linear_index(q[0], q[1], q[2]))];
        if (edge)
          surface.push_back(dose_grid.index_to_physical({double(i), double(j), double(k)}));
      }
  if (surface.empty())
    throw ProcessingError("fall-off objective: the target covers no dose voxel");
  std::vector<double> dist(compute_voxels.size(), 0.0);
  const int64_t nx = s[0], ny = s[1];
  for (size_t c = 0; c < compute_voxels.size(); ++c) {
    const int64_t v = compute_voxels[c];
    if (in[static_cast<size_t>(v)]) continue;
    const Vec3 p = dose_grid.index_to_physical(
        {double(v % nx), double((v / nx) % ny), double(v / (nx * ny))});
    double best = std::numeric_limits<double>::max();
    for (const Vec3& q : surface) {
      const double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
      best = std::min(best, dx * dx + dy * dy + dz * dz);
    }
    dist[c] = std::sqrt(best);
  }
  return dist;
}

struct ObjectiveTerm::Impl {
  ObjectiveSpec spec;
  std::string structure;
  torch::Tensor index;     // int64 positions in the dose vector
  torch::Tensor fraction;  // double, one per index
  torch::Tensor limit_gy;  // kFallOff: the ring's limit per index (double)
  double total = 0.0;      // normaliser (summed fractions)
};

ObjectiveTerm::ObjectiveTerm(ObjectiveSpec spec, VoxelWeights voxels, std::string structure_name,
                             std::vector<double> distance_mm, double rx_gy)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.spec = std::move(spec);
  m.structure = std::move(structure_name);
  m.total = voxels.total();
  if (m.total <= 0)
    throw ProcessingError("objective on '" + m.structure + "': no dose voxel lies in the structure");
  if (m.spec.kind == ObjectiveKind::kFallOff) {
    if (rx_gy <= 0) throw ProcessingError("fall-off objective needs a prescription dose");
    // Only voxels outside the target carry the ring; the normaliser stays the region's size.
    std::vector<int64_t> idx;
    std::vector<double> frac, lim;
    for (size_t n = 0; n < voxels.index.size(); ++n) {
      const double r = distance_mm.at(static_cast<size_t>(voxels.index[n]));
      if (r <= 0) continue;
      idx.push_back(voxels.index[n]);
      frac.push_back(voxels.fraction[n]);
      lim.push_back(m.spec.ring.limit_gy(r, rx_gy));
    }
    voxels.index = std::move(idx);
    voxels.fraction = std::move(frac);
    m.limit_gy = torch::tensor(lim, torch::kDouble);
  }
  m.index = torch::tensor(voxels.index, torch::kLong);
  m.fraction = torch::tensor(voxels.fraction, torch::kDouble);
}

ObjectiveTerm::~ObjectiveTerm() = default;
ObjectiveTerm::ObjectiveTerm(ObjectiveTerm&&) noexcept = default;
ObjectiveTerm& ObjectiveTerm::operator=(ObjectiveTerm&&) noexcept = default;

const ObjectiveSpec& ObjectiveTerm::spec() const { return impl_->spec; }
const std::string& ObjectiveTerm::structure_name() const { return impl_->structure; }

std::string ObjectiveTerm::label() const {
  const ObjectiveSpec& s = impl_->spec;
  std::string out = impl_->structure + " " + to_string(s.kind);
  if (s.kind == ObjectiveKind::kFallOff) return out + " around " + s.ring.target_role;
  out += " " + format_number(s.dose_gy) + " Gy";
  if (s.kind == ObjectiveKind::kDvhMin || s.kind == ObjectiveKind::kDvhMax)
    out += " " + format_number(s.volume_pct) + " %";
  if (s.kind == ObjectiveKind::kGeudMax || s.kind == ObjectiveKind::kGeudMin)
    out += " a=" + format_number(s.geud_a);
  return out;
}

namespace {

// Current dose at volume v% (weighted): the lowest dose among the hottest voxels that
// together hold v% of the fractions. No gradient flows through it (Wu & Mohan 2000 treat
// it as fixed within an iteration).
double dose_at_volume(const torch::Tensor& d, const torch::Tensor& w, double volume_pct) {
  torch::NoGradGuard ng;
  auto sorted = torch::sort(d.detach().to(torch::kDouble), 0, /*descending=*/true);
  torch::Tensor doses = std::get<0>(sorted).contiguous();
  torch::Tensor cum = w.index_select(0, std::get<1>(sorted)).cumsum(0).contiguous();
  const double need = volume_pct / 100.0 * cum[-1].item<double>();
  const double* c = cum.data_ptr<double>();
  const int64_t n = cum.size(0);
  int64_t pos = std::lower_bound(c, c + n, need) - c;
  pos = std::min(pos, n - 1);
  return doses[pos].item<double>();
}

}  // namespace

at::Tensor ObjectiveTerm::value(const at::Tensor& dose_gy) const {
  const Impl& m = *impl_;
  const ObjectiveSpec& s = m.spec;
  const auto dtype = dose_gy.scalar_type();
  torch::Tensor w = m.fraction.to(dtype);
  torch::Tensor d = dose_gy.index_select(0, m.index);
  const double level = s.dose_gy;
  torch::Tensor v;
  switch (s.kind) {
    case ObjectiveKind::kMinDose:
      v = (w * torch::relu(level - d).pow(2)).sum() / m.total;
      break;
    case ObjectiveKind::kMaxDose:
      v = (w * torch::relu(d - level).pow(2)).sum() / m.total;
      break;
    case ObjectiveKind::kMaxMeanDose:
      v = torch::relu((w * d).sum() / m.total - level).pow(2);
      break;
    case ObjectiveKind::kUniformDose:
      v = (w * (d - level).pow(2)).sum() / m.total;
      break;
    case ObjectiveKind::kDvhMax: {
      const double dv = dose_at_volume(d, m.fraction, s.volume_pct);
      torch::Tensor active = ((d > level) & (d <= dv)).to(dtype).detach();
      v = (w * active * (d - level).pow(2)).sum() / m.total;
      break;
    }
    case ObjectiveKind::kDvhMin: {
      const double dv = dose_at_volume(d, m.fraction, s.volume_pct);
      torch::Tensor active = ((d < level) & (d >= dv)).to(dtype).detach();
      v = (w * active * (level - d).pow(2)).sum() / m.total;
      break;
    }
    case ObjectiveKind::kGeudMax:
    case ObjectiveKind::kGeudMin: {
      const double a = s.geud_a;
      if (a == 0) throw ProcessingError("gEUD objective on '" + m.structure + "': a must not be 0");
      // Scale by a detached reference dose so that d^a neither overflows (large a) nor
      // blows up at cold voxels (negative a); the value is unchanged.
      torch::Tensor dp = d.clamp_min(1e-6);
      double ref = (a > 0 ? dp.max() : dp.min()).item<double>();
      ref = std::max(ref, 1e-6);
      torch::Tensor mean_pow = (w * (dp / ref).pow(a)).sum() / m.total;
      torch::Tensor geud = ref * mean_pow.pow(1.0 / a);
      v = s.kind == ObjectiveKind::kGeudMax ? torch::relu(geud - level).pow(2)
                                            : torch::relu(level - geud).pow(2);
      break;
    }
    case ObjectiveKind::kFallOff:
      v = (w * torch::relu(d - m.limit_gy.to(dtype)).pow(2)).sum() / m.total;
      break;
  }
  return v * s.weight;
}

PlanObjective::PlanObjective(std::vector<ObjectiveTerm> terms) : terms_(std::move(terms)) {}
PlanObjective::~PlanObjective() = default;
PlanObjective::PlanObjective(PlanObjective&&) noexcept = default;

PlanObjective::PlanObjective(const Patient& patient, const Protocol& protocol,
                             const StructureRoles& roles, const ImageGrid& dose_grid,
                             const std::vector<int64_t>& compute_voxels) {
  for (const TargetLevel& t : protocol.prescription.targets) roles.resolve(patient, t.role);
  auto rx_of = [&](const std::string& role) {
    for (const TargetLevel& t : protocol.prescription.targets)
      if (t.role == role) return t.dose_gy;
    return protocol.prescription.total_dose_gy;
  };
  for (const ObjectiveSpec& spec : protocol.objectives) {
    const Structure* s = roles.find(patient, spec.role);
    if (!s) {
      skipped_.push_back(spec.role + " " + to_string(spec.kind) + " (no structure)");
      continue;
    }
    VoxelWeights vw = structure_on_dose_grid(s->mask, dose_grid, compute_voxels);
    if (vw.index.empty()) {
      skipped_.push_back(spec.role + " " + to_string(spec.kind) + " (outside the dose grid)");
      continue;
    }
    if (spec.kind == ObjectiveKind::kFallOff) {
      const Structure& target = roles.resolve(patient, spec.ring.target_role);
      VoxelWeights tw = structure_on_dose_grid(target.mask, dose_grid, compute_voxels);
      std::vector<double> dist = distance_to_target_mm(tw, dose_grid, compute_voxels);
      terms_.emplace_back(spec, std::move(vw), s->name, std::move(dist),
                          rx_of(spec.ring.target_role));
    } else {
      terms_.emplace_back(spec, std::move(vw), s->name);
    }
  }
  if (terms_.empty()) throw ProcessingError("protocol '" + protocol.name + "' gives no objective for this patient");
}

at::Tensor PlanObjective::value(const at::Tensor& dose_gy) const {
  torch::Tensor total = torch::zeros({}, dose_gy.options());
  for (const ObjectiveTerm& t : terms_) total = total + t.value(dose_gy);
  return total;
}

std::vector<double> PlanObjective::term_values(const at::Tensor& dose_gy) const {
  torch::NoGradGuard ng;
  std::vector<double> out;
  for (const ObjectiveTerm& t : terms_) out.push_back(t.value(dose_gy.detach()).item<double>());
  return out;
}

const std::vector<ObjectiveTerm>& PlanObjective::terms() const { return terms_; }
const std::vector<std::string>& PlanObjective::skipped() const { return skipped_; }

}  // namespace vmatplan
