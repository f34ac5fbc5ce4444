// The LibTorch part of the pencil-beam engine: fluence -> convolved sample planes (exact
// Gaussian integrals over bixels, two matrix products per component) -> bilinear gather
// into voxels (a custom autograd function whose backward is its exact transpose).
#include "vmatplan/dose/pencil_beam_engine.h"

#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <malloc.h>

#include <cstdlib>
#include <thread>
#include <type_traits>

#include "entry_gather.h"
#include "pencil_beam_setup.h"
#include "sample_plane_convolution.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/huge_pages.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Control points per task where tasks are control points (parallel_for_dynamic).
constexpr long kControlPointGrain = 8;

// Sum over entries of one control point of w_k * bilinear(plane_k): forward, and its
// transpose (scatter of the voxel gradient onto the plane samples): backward.
template <class T, int K>
void gather_forward(const detail::EngineData& d, const T* planes, int64_t cp_begin,
                    int64_t cp_end, T* __restrict__ dose) {
  const int64_t w = d.plane.width * K;
  const int64_t plane_size = d.plane.width * d.plane.height * K;
  for (int64_t c = cp_begin; c < cp_end; ++c) {
    const detail::EntryBlock& b = d.blocks[d.cp_block[c]];
    const int32_t* __restrict__ base = b.base.data();
    const uint16_t *__restrict__ fxs = b.fx.data(), *__restrict__ fys = b.fy.data();
    const float* __restrict__ weight = b.weight.data();
    const T* __restrict__ plane = planes + c * plane_size;
    for (int64_t r = d.cp_run_begin[c]; r < d.cp_run_end[c]; ++r) {
      const int64_t e0 = b.run_entry[r], e1 = e0 + b.run_length[r];
      T* __restrict__ out = dose + b.run_voxel[r];  // out[e - e0]: the entry's voxel
      for (int64_t e = e0; e < e1; ++e) {
        const T* p00 = plane + static_cast<int64_t>(base[e]) * K;
        const T* p10 = p00 + w;
        const T fx = fxs[e] * detail::kFractionUnit, fy = fys[e] * detail::kFractionUnit;
        const float* wk = weight + e * K;
        T sum = 0;
        for (int k = 0; k < K; ++k) {
          const T top = p00[k] + fx * (p00[k + K] - p00[k]);
          const T bottom = p10[k] + fx * (p10[k + K] - p10[k]);
          sum += wk[k] * (top + fy * (bottom - top));
        }
        out[e - e0] += sum;
      }
    }
  }
}

// gather_forward, for floats with the components in SIMD lanes where usable (the same floats).
template <class T, int K>
void gather_forward_any(const detail::EngineData& d, const T* planes, int64_t cp_begin,
                        int64_t cp_end, T* dose) {
  if constexpr (std::is_same_v<T, float>) {
    if (d.vector_gather && detail::EntryGatherAvx::usable(d))
      return detail::EntryGatherAvx::forward(d, planes, cp_begin, cp_end, dose);
  }
  gather_forward<T, K>(d, planes, cp_begin, cp_end, dose);
}

template <class T, int K>
void gather_backward(const detail::EngineData& d, const T* __restrict__ grad_dose,
                     int64_t cp_begin, int64_t cp_end, T* grad_planes) {
  const int64_t w = d.plane.width * K;
  const int64_t plane_size = d.plane.width * d.plane.height * K;
  for (int64_t c = cp_begin; c < cp_end; ++c) {
    const detail::EntryBlock& b = d.blocks[d.cp_block[c]];
    const int32_t* __restrict__ base = b.base.data();
    const uint16_t *__restrict__ fxs = b.fx.data(), *__restrict__ fys = b.fy.data();
    const float* __restrict__ weight = b.weight.data();
    T* __restrict__ plane = grad_planes + c * plane_size;
    for (int64_t r = d.cp_run_begin[c]; r < d.cp_run_end[c]; ++r) {
      const int64_t e0 = b.run_entry[r], e1 = e0 + b.run_length[r];
      const T* in = grad_dose + b.run_voxel[r];  // in[e - e0]: the entry's voxel
      for (int64_t e = e0; e < e1; ++e) {
        // Objective gradients are sparse (DAO, phantom seed 1: about 3.5 % of the voxels
        // non-zero: the other voxels are below every term's limit), and a zero adds nothing:
        // skip zeros, 8 at a time where they come in blocks.
        if (e + 8 <= e1) {
          bool any = false;
          for (int i = 0; i < 8; ++i) any |= in[e - e0 + i] != 0;
          if (!any) {
            e += 7;
            continue;
          }
        }
        const T g = in[e - e0];
        if (g == 0) continue;
        T* p00 = plane + static_cast<int64_t>(base[e]) * K;
        T* p10 = p00 + w;
        const T fx = fxs[e] * detail::kFractionUnit, fy = fys[e] * detail::kFractionUnit;
        const T g00 = (1 - fx) * (1 - fy) * g, g01 = fx * (1 - fy) * g, g10 = (1 - fx) * fy * g,
                g11 = fx * fy * g;
        const float* wk = weight + e * K;
        for (int k = 0; k < K; ++k) {
          p00[k] += g00 * wk[k];
          p00[k + K] += g01 * wk[k];
          p10[k] += g10 * wk[k];
          p10[k + K] += g11 * wk[k];
        }
      }
    }
  }
}

struct GatherDose : public torch::autograd::Function<GatherDose> {
  // planes: [control points, height, width, components], contiguous. Returns [voxels].
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor planes,
                               const detail::EngineData* d) {
    ctx->saved_data["engine"] = reinterpret_cast<int64_t>(d);
    planes = planes.contiguous();
    const int64_t v = static_cast<int64_t>(d->volume.compute_voxels.size());
    // vmatplan's own threads: at::parallel_for is a no-op in a translation unit built
    // without -fopenmp (its OpenMP pragmas are header code).
    const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(thread_count(), d->control_points));
    // One accumulator per chunk of control points (voxels receive from every chunk).
    torch::Tensor partial = torch::zeros({threads, v}, planes.options());
    AT_DISPATCH_FLOATING_TYPES(planes.scalar_type(), "gather_dose_forward", [&] {
      const scalar_t* p = planes.data_ptr<scalar_t>();
      scalar_t* out = partial.data_ptr<scalar_t>();
      const int64_t per = (d->control_points + threads - 1) / threads;
      detail::with_kernel_components(d->components, [&](auto k) {
        parallel_for(threads, [&](long b, long e) {
          for (int64_t t = b; t < e; ++t)
            gather_forward_any<scalar_t, decltype(k)::value>(
                *d, p, t * per, std::min(d->control_points, (t + 1) * per), out + t * v);
        });
      });
    });
    return partial.sum(0);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto* d = reinterpret_cast<const detail::EngineData*>(ctx->saved_data["engine"].toInt());
    torch::Tensor g = grad_outputs[0].contiguous();
    torch::Tensor grad = torch::zeros(
        {d->control_points, d->plane.height, d->plane.width, d->components}, g.options());
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "gather_dose_backward", [&] {
      const scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* out = grad.data_ptr<scalar_t>();
      // Control points own disjoint planes: no write conflicts.
      detail::with_kernel_components(d->components, [&](auto k) {
        parallel_for_dynamic(d->control_points, kControlPointGrain, [&](long b, long e) {
          gather_backward<scalar_t, decltype(k)::value>(*d, gp, b, e, out);
        });
      });
    });
    return {grad, torch::Tensor()};
  }
};

// fluence [C, rows, bixels] -> planes [C, H, W, K] (the exact Gaussian integrals over the
// bixels, tails skipped) and, backward, the transpose; in parallel over control points.
struct ConvolvePlanes : public torch::autograd::Function<ConvolvePlanes> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor fluence,
                               const detail::PlaneConvolution* conv, const detail::EngineData* d) {
    ctx->saved_data["conv"] = reinterpret_cast<int64_t>(conv);
    ctx->saved_data["rows"] = fluence.size(1);
    ctx->saved_data["bixels"] = fluence.size(2);
    fluence = fluence.contiguous();
    const int64_t c_count = fluence.size(0), per_cp = fluence.size(1) * fluence.size(2);
    torch::Tensor planes = torch::empty({c_count, d->plane.height, d->plane.width, d->components},
                                        fluence.options());
    AT_DISPATCH_FLOATING_TYPES(fluence.scalar_type(), "convolve_planes", [&] {
      const scalar_t* f = fluence.data_ptr<scalar_t>();
      scalar_t* p = planes.data_ptr<scalar_t>();
      const int64_t size = conv->plane_size();
      parallel_for_dynamic(c_count, kControlPointGrain, [&](long b, long e) {
        detail::PlaneScratch<scalar_t> scratch;
        for (long c = b; c < e; ++c)
          if (!conv->forward(f + c * per_cp, p + c * size, scratch))
            std::fill(p + c * size, p + (c + 1) * size, scalar_t(0));
      });
    });
    return planes;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto* conv = reinterpret_cast<const detail::PlaneConvolution*>(ctx->saved_data["conv"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt(), bixels = ctx->saved_data["bixels"].toInt();
    torch::Tensor g = grad_outputs[0].contiguous();
    const int64_t c_count = g.size(0);
    torch::Tensor grad = torch::empty({c_count, rows, bixels}, g.options());
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "convolve_planes_backward", [&] {
      const scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* out = grad.data_ptr<scalar_t>();
      const int64_t size = conv->plane_size();
      parallel_for_dynamic(c_count, kControlPointGrain, [&](long b, long e) {
        detail::PlaneScratch<scalar_t> scratch;
        for (long c = b; c < e; ++c) conv->backward(gp + c * size, out + c * rows * bixels, scratch);
      });
    });
    return {grad, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

struct PencilBeamEngine::Impl {
  detail::EngineData data;
  std::unique_ptr<detail::PlaneConvolution> convolution;
  torch::Tensor voxel_index;  // int64 [compute voxels]
};

PencilBeamEngine::PencilBeamEngine(const Patient& patient, const Machine& machine,
                                   const PlanGeometry& geometry, const FluenceGrid& grid,
                                   const DoseEngineOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->data = detail::build_engine_data(patient, machine, geometry, grid, options);
  const auto& d = impl_->data;
  impl_->convolution = std::make_unique<detail::PlaneConvolution>(grid, d.plane, d.model);
  impl_->voxel_index = torch::tensor(d.volume.compute_voxels, torch::kInt64);
}

PencilBeamEngine::~PencilBeamEngine() = default;
PencilBeamEngine::PencilBeamEngine(PencilBeamEngine&&) noexcept = default;

namespace {
void check_fluence_shape(const torch::Tensor& fluence, const detail::EngineData& d) {
  const FluenceGrid& g = d.fluence_grid;
  if (fluence.dim() != 3 || fluence.size(0) != d.control_points ||
      fluence.size(1) != g.row_count() || fluence.size(2) != g.bixel_count)
    throw ProcessingError("fluence shape " + std::to_string(fluence.size(0)) + "x" +
                          std::to_string(fluence.dim() > 1 ? fluence.size(1) : 0) + "x" +
                          std::to_string(fluence.dim() > 2 ? fluence.size(2) : 0) +
                          " does not match the engine (control points " +
                          std::to_string(d.control_points) + ", rows " +
                          std::to_string(g.row_count()) + ", bixels " +
                          std::to_string(g.bixel_count) + ")");
  if (!fluence.is_floating_point()) throw ProcessingError("fluence must be float or double");
}
}  // namespace

torch::Tensor PencilBeamEngine::sample_planes(const torch::Tensor& fluence) const {
  check_fluence_shape(fluence, impl_->data);
  return ConvolvePlanes::apply(fluence, impl_->convolution.get(), &impl_->data);  // [C, H, W, K]
}

torch::Tensor PencilBeamEngine::dose_at_voxels(const torch::Tensor& fluence) const {
  return GatherDose::apply(sample_planes(fluence), &impl_->data);
}

torch::Tensor PencilBeamEngine::control_point_doses(const torch::Tensor& fluence) const {
  torch::NoGradGuard no_grad;
  const auto& d = impl_->data;
  const torch::Tensor planes = sample_planes(fluence).contiguous();
  const int64_t v = static_cast<int64_t>(d.volume.compute_voxels.size());
  torch::Tensor out = torch::zeros({d.control_points, v}, planes.options());
  AT_DISPATCH_FLOATING_TYPES(planes.scalar_type(), "control_point_doses", [&] {
    const scalar_t* p = planes.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    detail::with_kernel_components(d.components, [&](auto k) {
      parallel_for(d.control_points, [&](long b, long e) {
        for (int64_t c = b; c < e; ++c)
          gather_forward_any<scalar_t, decltype(k)::value>(d, p, c, c + 1, o + c * v);
      });
    });
  });
  return out;
}

torch::Tensor PencilBeamEngine::dose(const torch::Tensor& fluence) const {
  const ImageGrid& g = impl_->data.volume.grid;
  torch::Tensor compact = dose_at_voxels(fluence);
  return torch::zeros({g.voxel_count()}, compact.options())
      .index_copy(0, impl_->voxel_index, compact)
      .view({g.size[2], g.size[1], g.size[0]});
}

Image3D<float> PencilBeamEngine::dose_image(const FluenceMaps& fluence) const {
  const FluenceGrid& g = impl_->data.fluence_grid;
  if (fluence.grid.row_count() != g.row_count() || fluence.grid.bixel_count != g.bixel_count ||
      fluence.values.size() != static_cast<size_t>(impl_->data.control_points) *
                                   g.row_count() * g.bixel_count)
    throw ProcessingError("fluence maps do not match the engine's control points and grid");
  torch::NoGradGuard no_grad;
  torch::Tensor f = torch::from_blob(const_cast<float*>(fluence.values.data()),
                                     {impl_->data.control_points, g.row_count(), g.bixel_count},
                                     torch::kFloat32);
  torch::Tensor dose = this->dose(f).contiguous();
  Image3D<float> out(impl_->data.volume.grid);
  std::copy(dose.data_ptr<float>(), dose.data_ptr<float>() + dose.numel(), out.voxels.begin());
  return out;
}

const ImageGrid& PencilBeamEngine::dose_grid() const { return impl_->data.volume.grid; }
const std::vector<int64_t>& PencilBeamEngine::compute_voxels() const {
  return impl_->data.volume.compute_voxels;
}
at::Tensor PencilBeamEngine::values_at_compute_voxels(const std::vector<float>& values,
                                                      const std::string& user) const {
  const int64_t n = dose_grid().voxel_count();
  if (static_cast<int64_t>(values.size()) != n)
    throw ProcessingError(user + ": " + std::to_string(values.size()) + " values, the engine's dose grid has " +
                          std::to_string(n) + " voxels");
  return torch::from_blob(const_cast<float*>(values.data()), {n}, torch::kFloat)
      .index_select(0, torch::tensor(compute_voxels(), torch::kInt64));
}
int64_t PencilBeamEngine::control_point_count() const { return impl_->data.control_points; }
const FluenceGrid& PencilBeamEngine::fluence_grid() const { return impl_->data.fluence_grid; }
int64_t PencilBeamEngine::entry_count() const {
  return impl_->data.entries;
}
double PencilBeamEngine::setup_seconds() const { return impl_->data.setup_seconds; }
int64_t PencilBeamEngine::lattice_control_points() const {
  return impl_->data.lattice_control_points;
}
size_t PencilBeamEngine::memory_bytes() const { return impl_->data.bytes(); }
double PencilBeamEngine::reference_dmax_mm() const { return impl_->data.model.reference_dmax_mm; }

namespace {

// LibTorch's CPU allocator (64-byte aligned, as c10's own) with huge-page advice for
// large blocks (core/huge_pages.h).
struct HugePageCpuAllocator final : c10::Allocator {
  static void release(void* p) { std::free(p); }
  c10::DataPtr allocate(size_t bytes) const override {
    void* p = bytes == 0 ? nullptr : allocate_huge_page_advised(bytes, 64);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

}  // namespace

void set_dose_engine_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // LibTorch's own (OpenMP) kernels stay on one thread: on the small tensors of the
  // objectives their wake-up and spin costs dominate, and with more runnable threads than
  // cores they collapse (one-off measurement, 2026-11-26: objective + gradient on 120 000
  // voxels took 4 ms on 1 thread, 300 ms on 2 threads with a load of 4 on 2 cores). The
  // engine's gather and set-up, where the
  // work is, run on vmatplan's own threads.
  at::set_num_threads(1);
  set_thread_count(n);
  // Process-wide: serve the engine's per-evaluation tensors (tens of MB of planes and
  // their gradients, allocated and freed every iteration) from the heap and keep freed
  // memory, instead of a fresh mmap each time. On this project's VMs the page faults of
  // those fresh pages took about a third of an optimiser iteration (perf, 2026-12-06).
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // And LibTorch's tensors of 4 MiB and more on huge pages: the heap's new pages are still
  // 4 KiB pages, and the first writes of a plan's tensors (planes, the FMD network's
  // activations) took about 10^5 page faults of a few microseconds each on these VMs
  // (perf -e page-faults, 2026-12-07). Advice only: the values are the same.
  static HugePageCpuAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
}

}  // namespace vmatplan
