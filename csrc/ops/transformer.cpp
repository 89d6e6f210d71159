// The Transformer inference fast path on mlu: what nn.TransformerEncoderLayer and
// nn.MultiheadAttention call in eval mode under no_grad (_transformer_encoder_layer_fwd,
// _native_multi_head_attention) and the pieces they are made of (_transform_bias_rescale_qkv,
// _masked_softmax). Each is composed of native mlu operators, with PyTorch CPU's semantics:
// masks are true where attention is forbidden, and a query that may attend nothing gets NaN.
#include "transformer.h"

#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>

namespace torch_mlu::ops {
namespace {

// The mask broadcast to the scores' shape. mask_type 0: [L, L] for every batch and head;
// 1: a key padding mask [B, L]; 2 (and unset): the scores' shape. Types 0 and 1 need a 2-D mask
// and 4-D scores, otherwise the mask is taken as type 2, as on the CPU.
at::Tensor mask_like(const at::Tensor& scores, const at::Tensor& mask,
                     std::optional<int64_t> mask_type) {
  TORCH_CHECK(mask.scalar_type() == at::kBool, "_masked_softmax: the mask should be a boolean ",
              "tensor, got ", mask.scalar_type());
  int64_t type = mask_type.value_or(2);
  if (mask.dim() != 2 || scores.dim() != 4) type = 2;
  if (type == 1) {
    TORCH_CHECK(scores.size(0) == mask.size(0) && scores.size(3) == mask.size(1),
                "_masked_softmax: for mask_type == 1 the mask shape should be (B, L) = (",
                scores.size(0), ", ", scores.size(3), "), got ", mask.sizes());
    return mask.view({mask.size(0), 1, 1, mask.size(1)}).expand(scores.sizes());
  }
  if (type == 0) {
    TORCH_CHECK(mask.size(0) == scores.size(2) && mask.size(1) == scores.size(3),
                "_masked_softmax: for mask_type == 0 the mask shape should be (L, L) = (",
                scores.size(2), ", ", scores.size(3), "), got ", mask.sizes());
    return mask.view({1, 1, mask.size(0), mask.size(1)}).expand(scores.sizes());
  }
  TORCH_CHECK(type == 2, "_masked_softmax: unknown mask_type ", type, " (0, 1 or 2)");
  TORCH_CHECK(mask.sizes() == scores.sizes(), "_masked_softmax: for mask_type == 2 the mask ",
              "shape should match the input shape ", scores.sizes(), ", got ", mask.sizes());
  return mask;
}

at::Tensor masked_softmax(const at::Tensor& self, const at::Tensor& mask,
                          std::optional<int64_t> dim, std::optional<int64_t> mask_type) {
  c10::DeviceGuard guard(self.device());
  const at::Tensor forbidden = mask_like(self, mask, mask_type);
  const int64_t d = at::maybe_wrap_dim(dim.value_or(self.dim() - 1), self.dim());
  return at::softmax(self.masked_fill(forbidden, -std::numeric_limits<double>::infinity()), d);
}

at::Tensor masked_softmax_backward(const at::Tensor& grad_output, const at::Tensor& output,
                                   const at::Tensor& mask, std::optional<int64_t> dim) {
  c10::DeviceGuard guard(output.device());
  TORCH_CHECK(mask.scalar_type() == at::kBool, "_masked_softmax_backward: the mask should be a ",
              "boolean tensor, got ", mask.scalar_type());
  TORCH_CHECK(grad_output.sizes() == mask.sizes() && output.sizes() == mask.sizes(),
              "_masked_softmax_backward: the mask shape ", mask.sizes(),
              " should match the gradient's ", grad_output.sizes());
  const int64_t d = at::maybe_wrap_dim(dim.value_or(output.dim() - 1), output.dim());
  return (output * (grad_output - (grad_output * output).sum(d, /*keepdim=*/true)))
      .masked_fill(mask, 0);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> transform_bias_rescale_qkv(
    const at::Tensor& qkv, const at::Tensor& qkv_bias, int64_t num_heads) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.size(2) % 3 == 0,
              "_transform_bias_rescale_qkv: expected qkv of shape [B, T, 3 * D], got ",
              qkv.sizes());
  const int64_t batch = qkv.size(0), length = qkv.size(1), dim = qkv.size(2) / 3;
  TORCH_CHECK(num_heads > 0 && dim % num_heads == 0, "_transform_bias_rescale_qkv: ", dim,
              " features do not divide into ", num_heads, " heads");
  TORCH_CHECK(qkv_bias.dim() == 1 && qkv_bias.size(0) == 3 * dim,
              "_transform_bias_rescale_qkv: expected a bias of ", 3 * dim, " values, got ",
              qkv_bias.sizes());
  c10::DeviceGuard guard(qkv.device());
  const int64_t head_dim = dim / num_heads;
  const at::Tensor heads = (qkv + qkv_bias)
                               .view({batch, length, 3, num_heads, head_dim})
                               .permute({2, 0, 3, 1, 4});  // [3, B, H, T, head_dim]
  return {heads[0].mul(1.0 / std::sqrt(static_cast<double>(head_dim))).contiguous(),
          heads[1].contiguous(), heads[2].contiguous()};
}

// [B, T, 3 * D]: the query, key and value projections, without their biases.
at::Tensor project_qkv(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                       int64_t embed_dim, const at::Tensor& qkv_weight) {
  if (key.is_same(value) && query.is_same(key)) return at::matmul(query, qkv_weight.t());
  const std::vector<at::Tensor> w = qkv_weight.split(embed_dim, 0);
  if (key.is_same(value)) {
    return at::cat({at::matmul(query, w[0].t()), at::matmul(key, at::cat({w[1], w[2]}).t())}, 2);
  }
  return at::cat(
      {at::matmul(query, w[0].t()), at::matmul(key, w[1].t()), at::matmul(value, w[2].t())}, 2);
}

std::tuple<at::Tensor, at::Tensor> native_multi_head_attention(
    const at::Tensor& query, const at::Tensor& key, const at::Tensor& value, int64_t embed_dim,
    int64_t num_heads, const at::Tensor& qkv_weight, const at::Tensor& qkv_bias,
    const at::Tensor& proj_weight, const at::Tensor& proj_bias,
    const std::optional<at::Tensor>& mask, bool need_weights, bool average_attn_weights,
    std::optional<int64_t> mask_type) {
  const int64_t d = embed_dim;
  TORCH_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3,
              "_native_multi_head_attention: expected 3-D query, key and value, got ",
              query.sizes(), ", ", key.sizes(), " and ", value.sizes());
  TORCH_CHECK(query.size(2) == d, "_native_multi_head_attention: passed-in embed_dim ", d,
              " didn't match last dim of query ", query.size(2));
  TORCH_CHECK(query.sizes() == key.sizes() && key.sizes() == value.sizes(),
              "_native_multi_head_attention: expected query/key/value shapes to match");
  TORCH_CHECK(qkv_weight.dim() == 2 && qkv_weight.size(0) == 3 * d && qkv_weight.size(1) == d,
              "_native_multi_head_attention: expected qkv_weight of shape [3 * embed_dim, ",
              "embed_dim] = [", 3 * d, ", ", d, "], got ", qkv_weight.sizes());
  TORCH_CHECK(qkv_bias.dim() == 1 && qkv_bias.size(0) == 3 * d,
              "_native_multi_head_attention: expected qkv_bias of ", 3 * d, " values, got ",
              qkv_bias.sizes());
  TORCH_CHECK(num_heads > 0 && d % num_heads == 0,
              "_native_multi_head_attention: embed_dim must divide evenly by num_heads");
  c10::DeviceGuard guard(query.device());
  const at::Tensor qkv = project_qkv(query, key, value, d, qkv_weight);
  if (qkv.numel() == 0) return {at::empty_like(query), at::Tensor()};
  auto [q, k, v] = at::_transform_bias_rescale_qkv(qkv, qkv_bias, num_heads);  // [B, H, T, d/H]
  const int64_t batch = query.size(0), length = query.size(1);
  at::Tensor context, weights;
  const bool masked = mask.has_value() && mask->defined();
  if (!need_weights && !masked) {
    // q is already scaled; the tiled attention kernel never forms the weights.
    context = at::scaled_dot_product_attention(q, k, v, std::nullopt, 0.0, false, 1.0);
  } else {
    const at::Tensor scores = at::matmul(q, k.transpose(-2, -1));
    weights = masked ? at::_masked_softmax(scores, mask->to(at::kBool), -1, mask_type)
                     : at::softmax(scores, -1);
    context = at::matmul(weights, v);
  }
  const at::Tensor out =
      at::linear(context.transpose(1, 2).reshape({batch, length, d}), proj_weight, proj_bias);
  if (!need_weights) return {out, at::Tensor()};
  if (average_attn_weights) weights = weights.sum(1).div_(num_heads);
  return {out, weights};
}

}  // namespace

at::Tensor encoder_layer_forward(const EncoderLayerWeights& w, const at::Tensor& src,
                                 const std::optional<at::Tensor>& mask,
                                 std::optional<int64_t> mask_type) {
  if (src.numel() == 0) return src.clone();
  c10::DeviceGuard guard(src.device());
  const auto norm = [&](const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    return at::layer_norm(x, {w.embed_dim}, weight, bias, w.eps);
  };
  at::Tensor x = w.norm_first ? norm(src, w.norm_weight_1, w.norm_bias_1) : src;
  x = std::get<0>(at::_native_multi_head_attention(x, x, x, w.embed_dim, w.num_heads, w.qkv_weight,
                                                   w.qkv_bias, w.proj_weight, w.proj_bias, mask,
                                                   false, true, mask_type));
  x.add_(src);
  if (!w.norm_first) x = norm(x, w.norm_weight_1, w.norm_bias_1);
  const at::Tensor residual = x;
  if (w.norm_first) x = norm(x, w.norm_weight_2, w.norm_bias_2);
  x = at::linear(x, w.ffn_weight_1, w.ffn_bias_1);
  x = w.use_gelu ? at::gelu(x) : at::relu(x);
  x = at::linear(x, w.ffn_weight_2, w.ffn_bias_2);
  x.add_(residual);
  if (!w.norm_first) x = norm(x, w.norm_weight_2, w.norm_bias_2);
  return x;
}

namespace {

at::Tensor transformer_encoder_layer_fwd(
    const at::Tensor& src, int64_t embed_dim, int64_t num_heads, const at::Tensor& qkv_weight,
    const at::Tensor& qkv_bias, const at::Tensor& proj_weight, const at::Tensor& proj_bias,
    bool use_gelu, bool norm_first, double eps, const at::Tensor& norm_weight_1,
    const at::Tensor& norm_bias_1, const at::Tensor& norm_weight_2, const at::Tensor& norm_bias_2,
    const at::Tensor& ffn_weight_1, const at::Tensor& ffn_bias_1, const at::Tensor& ffn_weight_2,
    const at::Tensor& ffn_bias_2, const std::optional<at::Tensor>& mask,
    std::optional<int64_t> mask_type) {
  return encoder_layer_forward(
      {embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu, norm_first,
       eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1,
       ffn_weight_2, ffn_bias_2},
      src, mask, mask_type);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_masked_softmax", masked_softmax);
  m.impl("_masked_softmax_backward", masked_softmax_backward);
  m.impl("_transform_bias_rescale_qkv", transform_bias_rescale_qkv);
  m.impl("_native_multi_head_attention", native_multi_head_attention);
  m.impl("_transformer_encoder_layer_fwd", transformer_encoder_layer_fwd);
}

}  // namespace
}  // namespace torch_mlu::ops
