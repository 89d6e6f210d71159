// One Transformer encoder layer of the inference fast path, shared by dense inputs
// (transformer.cpp) and nested ones (nested.cpp, which pads them).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

namespace torch_mlu::ops {

struct EncoderLayerWeights {
  int64_t embed_dim, num_heads;
  const at::Tensor &qkv_weight, &qkv_bias, &proj_weight, &proj_bias;
  bool use_gelu, norm_first;
  double eps;
  const at::Tensor &norm_weight_1, &norm_bias_1, &norm_weight_2, &norm_bias_2;
  const at::Tensor &ffn_weight_1, &ffn_bias_1, &ffn_weight_2, &ffn_bias_2;
};

// _transformer_encoder_layer_fwd of a dense [B, T, D] input; mask and mask_type as
// _masked_softmax takes them (true: attention forbidden).
at::Tensor encoder_layer_forward(const EncoderLayerWeights& weights, const at::Tensor& src,
                                 const std::optional<at::Tensor>& mask,
                                 std::optional<int64_t> mask_type);

}  // namespace torch_mlu::ops
