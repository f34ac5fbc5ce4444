// The FMD (2+1)-D U-Net (see fmd_network.h).
#include "vmatplan/learn/fmd_network.h"

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/learn/edm.h"

namespace vmatplan {
namespace F = torch::nn::functional;

namespace {

constexpr int kEmbeddingFrequencies = 8;

torch::nn::Conv2d conv2d(int in, int out, int kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

// [B, C, T, R, X] <-> frames [B*T, C, R, X]: the per-control-point layout of the 2-D
// convolutions and group norms.
torch::Tensor to_frames(const torch::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}
torch::Tensor from_frames(const torch::Tensor& f, int64_t control_points) {
  return f.reshape({f.size(0) / control_points, control_points, f.size(1), f.size(2), f.size(3)})
      .permute({0, 2, 1, 3, 4});
}

}  // namespace

nlohmann::json FmdNetworkConfig::to_json() const {
  return {{"type", "fmd_unet_2plus1d"}, {"condition_channels", condition_channels},
          {"base_channels", base_channels}, {"embedding_channels", embedding_channels}, {"groups", groups}};
}

FmdNetworkConfig FmdNetworkConfig::from_json(const nlohmann::json& j, const std::string& source) {
  FmdNetworkConfig c;
  try {
    if (j.at("type").get<std::string>() != "fmd_unet_2plus1d")
      throw InputError(source, "unknown network type " + j.at("type").dump());
    c.condition_channels = j.at("condition_channels").get<int>();
    c.base_channels = j.at("base_channels").get<int>();
    c.embedding_channels = j.at("embedding_channels").get<int>();
    c.groups = j.at("groups").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("network: ") + e.what());
  }
  if (c.condition_channels != kFmdConditionChannels)
    throw InputError(source, "network: " + std::to_string(c.condition_channels) +
                                 " condition channels, this build has " + std::to_string(kFmdConditionChannels));
  if (c.base_channels < 1 || c.embedding_channels < 1 || c.groups < 1 || c.base_channels % c.groups != 0)
    throw InputError(source, "network: widths must be positive and divisible by the groups");
  return c;
}

FmdResBlockImpl::FmdResBlockImpl(int in, int out, int embedding, int groups) {
  norm_in_ = register_module("norm_in", torch::nn::GroupNorm(groups, in));
  spatial_ = register_module("spatial", conv2d(in, out, 3));
  film_ = register_module("film", torch::nn::Linear(embedding, 2 * out));
  norm_mid_ = register_module("norm_mid", torch::nn::GroupNorm(groups, out));
  along_arc_ = register_module(
      "along_arc", torch::nn::Conv3d(torch::nn::Conv3dOptions(out, out, {3, 1, 1}).padding({1, 0, 0})));
  if (in != out) skip_ = register_module("skip", conv2d(in, out, 1));
}

torch::Tensor FmdResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& embedding,
                                       int64_t control_points) {
  torch::Tensor h = spatial_->forward(torch::silu(norm_in_->forward(x)));
  const auto film = film_->forward(embedding).unsqueeze(-1).unsqueeze(-1).chunk(2, 1);
  h = torch::silu(norm_mid_->forward(h * (1 + film[0]) + film[1]));
  h = to_frames(along_arc_->forward(from_frames(h, control_points)));
  return (skip_ ? skip_->forward(x) : x) + h;
}

FmdUNetImpl::FmdUNetImpl(const FmdNetworkConfig& c) : config_(c) {
  const int w = c.base_channels, e = c.embedding_channels, g = c.groups;
  embed_in_ = register_module("embed_in", torch::nn::Linear(2 * kEmbeddingFrequencies, e));
  embed_out_ = register_module("embed_out", torch::nn::Linear(e, e));
  input_ = register_module("input", conv2d(1 + c.condition_channels, w, 3));
  down0_ = register_module("down0", FmdResBlock(w, w, e, g));
  down1_ = register_module("down1", FmdResBlock(w, 2 * w, e, g));
  middle0_ = register_module("middle0", FmdResBlock(2 * w, 4 * w, e, g));
  middle1_ = register_module("middle1", FmdResBlock(4 * w, 4 * w, e, g));
  up1_ = register_module("up1", FmdResBlock(4 * w + 2 * w, 2 * w, e, g));
  up0_ = register_module("up0", FmdResBlock(2 * w + w, w, e, g));
  output_norm_ = register_module("output_norm", torch::nn::GroupNorm(g, w));
  output_ = register_module("output", conv2d(w, 1, 3));
  // F starts at 0, so D starts as c_skip x (EDM's networks also zero their last layer).
  torch::NoGradGuard no_grad;
  output_->weight.zero_();
  output_->bias.zero_();
}

torch::Tensor FmdUNetImpl::forward(const torch::Tensor& x_in, const torch::Tensor& condition,
                                   const torch::Tensor& c_noise) {
  if (x_in.dim() != 5 || x_in.size(1) != 1 || condition.size(1) != config_.condition_channels ||
      x_in.size(3) % 4 != 0 || x_in.size(4) % 4 != 0)
    throw ProcessingError("FMD network: input must be [B,1,C,R,X] with R, X divisible by 4 and " +
                          std::to_string(config_.condition_channels) + " condition channels");
  // Fourier features of c_noise (frequencies 1 .. 64 rad per unit: c_noise spans ~[-2, 1.2]).
  const torch::Tensor freqs =
      torch::exp(torch::linspace(0.0, std::log(64.0), kEmbeddingFrequencies, c_noise.options()));
  const torch::Tensor phase = c_noise.unsqueeze(1) * freqs.unsqueeze(0);
  torch::Tensor emb = torch::cat({torch::cos(phase), torch::sin(phase)}, 1);
  emb = torch::silu(embed_out_->forward(torch::silu(embed_in_->forward(emb))));

  const int64_t t = x_in.size(2);
  emb = emb.repeat_interleave(t, 0);  // one row per frame
  const auto pool = [](const torch::Tensor& f) { return F::avg_pool2d(f, F::AvgPool2dFuncOptions(2)); };
  const auto upsample = [](const torch::Tensor& f) {
    return f.repeat_interleave(2, 2).repeat_interleave(2, 3);  // nearest, x2 over rows and bixels
  };
  const torch::Tensor h0 = down0_->forward(input_->forward(to_frames(torch::cat({x_in, condition}, 1))), emb, t);
  const torch::Tensor h1 = down1_->forward(pool(h0), emb, t);
  torch::Tensor h = middle1_->forward(middle0_->forward(pool(h1), emb, t), emb, t);
  h = up1_->forward(torch::cat({upsample(h), h1}, 1), emb, t);
  h = up0_->forward(torch::cat({upsample(h), h0}, 1), emb, t);
  return from_frames(output_->forward(torch::silu(output_norm_->forward(h))), t);
}

torch::Tensor fmd_denoise(FmdUNet& net, const torch::Tensor& x, const torch::Tensor& sigma,
                          const torch::Tensor& condition, double sigma_data) {
  return edm_denoise([&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
    return net->forward(x_in, condition, c_noise);
  }, x, sigma, sigma_data);
}

torch::Tensor fmd_one_step(FmdUNet& net, const torch::Tensor& z, double sigma_gen, const torch::Tensor& condition,
                           double sigma_data) {
  return fmd_denoise(net, z * sigma_gen, torch::full({z.size(0)}, sigma_gen, z.options()), condition, sigma_data);
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace vmatplan
