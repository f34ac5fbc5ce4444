#pragma once
// The FMD network: a compact (2+1)-D U-Net over one arc's fluence volume
// [control point, row, bixel] on the canvas (learn/fmd_canvas.h). Every convolution is
// factorised into a 3x3 convolution over the beam's-eye view of each control point (run
// as a 2-D convolution over all control points at once: LibTorch's fast path) and a 3-tap
// convolution along the control points (the arc's neighbouring gantry angles), and it
// pools only over rows and bixels, so an arc of any length is one input. Group norms are
// taken per control point, so statistics do not depend on how many control points a
// training window holds. The noise level enters every block as a FiLM scale/shift of an
// embedding of c_noise (EDM's c_noise = ln(sigma) / 4). The teacher, the DMD2 fake score
// and the one-step student share this architecture (DMD2 initialises both from the teacher).
//
//   FmdUNet net(FmdNetworkConfig{});
//   Tensor f = net->forward(x_in, condition, c_noise);  // x_in [B,1,C,R,X], condition [B,K,C,R,X]
//   Tensor d = fmd_denoise(net, x, sigma, condition, sigma_data);   // EDM-preconditioned D
//   Tensor g = fmd_one_step(net, z, sigma_max, condition, sigma_data);  // one-step generator
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "vmatplan/geometry/bev_conditioning.h"

namespace vmatplan {

// Inputs besides the noisy fluence: the BEV channels (geometry/bev_conditioning.h) and the
// gantry angle as sin and cos, both per control point.
inline constexpr int kFmdConditionChannels = kBevChannelCount + 2;

struct FmdNetworkConfig {
  int condition_channels = kFmdConditionChannels;
  int base_channels = 8;        // level widths base, 2 base, 4 base (rows x bixels /1, /2, /4);
                                // 8 keeps one 2-arc student evaluation under 0.3 s on 2 cores
  int embedding_channels = 64;  // noise-level embedding
  int groups = 4;               // group norm groups (divides every width)
  nlohmann::json to_json() const;
  // InputError naming `source` on a missing or invalid field.
  static FmdNetworkConfig from_json(const nlohmann::json& j, const std::string& source);
};

class FmdResBlockImpl : public torch::nn::Module {
 public:
  FmdResBlockImpl(int in_channels, int out_channels, int embedding_channels, int groups);
  // x: the control points as frames [B*T, C, R, X]; embedding [B*T, E]; T control points.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& embedding, int64_t control_points);

 private:
  torch::nn::GroupNorm norm_in_{nullptr}, norm_mid_{nullptr};
  torch::nn::Conv2d spatial_{nullptr}, skip_{nullptr};
  torch::nn::Conv3d along_arc_{nullptr};
  torch::nn::Linear film_{nullptr};
};
TORCH_MODULE(FmdResBlock);

class FmdUNetImpl : public torch::nn::Module {
 public:
  explicit FmdUNetImpl(const FmdNetworkConfig& config);
  // x_in [B,1,C,R,X] (already scaled by c_in), condition [B,K,C,R,X], c_noise [B];
  // R and X divisible by 4. Returns F [B,1,C,R,X].
  torch::Tensor forward(const torch::Tensor& x_in, const torch::Tensor& condition, const torch::Tensor& c_noise);
  const FmdNetworkConfig& config() const { return config_; }

 private:
  FmdNetworkConfig config_;
  torch::nn::Linear embed_in_{nullptr}, embed_out_{nullptr};
  torch::nn::Conv2d input_{nullptr}, output_{nullptr};
  FmdResBlock down0_{nullptr}, down1_{nullptr}, middle0_{nullptr}, middle1_{nullptr}, up1_{nullptr}, up0_{nullptr};
  torch::nn::GroupNorm output_norm_{nullptr};
};
TORCH_MODULE(FmdUNet);

// D(x; sigma, condition) with EDM's preconditioning (learn/edm.h); x [B,1,C,R,X], sigma [B].
torch::Tensor fmd_denoise(FmdUNet& net, const torch::Tensor& x, const torch::Tensor& sigma,
                          const torch::Tensor& condition, double sigma_data);

// The one-step generator G(z; c) = D(sigma_gen z; sigma_gen, c): the DMD2 student (z ~ N(0, I),
// sigma_gen = the teacher's sigma_max) and, with z = 0, the regression baseline. z [B,1,C,R,X].
torch::Tensor fmd_one_step(FmdUNet& net, const torch::Tensor& z, double sigma_gen, const torch::Tensor& condition,
                           double sigma_data);

int64_t parameter_count(const torch::nn::Module& module);

}  // namespace vmatplan
