// Nested tensors as far as the Transformer fast path takes them: nn.TransformerEncoder in eval
// mode turns a padded batch and its key padding mask into a nested tensor
// (_nested_tensor_from_mask), runs every layer on it (_transformer_encoder_layer_fwd) and pads
// the result again (to_padded_tensor). On mlu a nested tensor's layer runs on the padded batch
// with the padding as a key mask: every real position gets what the nested computation gives
// (padded keys have zero weight), and the padded ones are dropped. Other operators on nested mlu
// tensors are not implemented and raise PyTorch's "could not run" error.
#include <ATen/ATen.h>
#include <ATen/NestedTensorImpl.h>
#include <ATen/native/nested/NestedTensorUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <numeric>

#include "transformer.h"

namespace torch_mlu::ops {
namespace {

// The first dimension of each component of [B, L, D] sizes.
std::vector<int64_t> component_lengths(const at::Tensor& nested_sizes) {
  const at::Tensor sizes = nested_sizes.to(at::kLong).contiguous();
  std::vector<int64_t> lengths(sizes.size(0));
  for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = sizes[i][0].item<int64_t>();
  return lengths;
}

// A nested tensor of the first lengths[i] rows of padded[i] ([B, T, D]).
at::Tensor nested_from_padded(const at::Tensor& padded, const std::vector<int64_t>& lengths) {
  const int64_t batch = padded.size(0), features = padded.size(2);
  std::vector<at::Tensor> rows;
  at::Tensor sizes = at::empty({batch, 2}, at::kLong);
  for (int64_t i = 0; i < batch; ++i) {
    rows.push_back(padded[i].narrow(0, 0, lengths[i]).reshape({-1}));
    sizes[i][0] = lengths[i];
    sizes[i][1] = features;
  }
  at::Tensor buffer = rows.empty() ? at::empty({0}, padded.options()) : at::cat(rows);
  return at::native::wrap_buffer(std::move(buffer), sizes);
}

bool left_aligned(const at::Tensor& t, const at::Tensor& mask) {
  TORCH_CHECK(mask.scalar_type() == at::kBool, "_nested_tensor_from_mask: expected a boolean ",
              "mask, got ", mask.scalar_type());
  TORCH_CHECK(mask.dim() == 2, "_nested_tensor_from_mask: the padding mask should be 2-D, got ",
              mask.sizes());
  TORCH_CHECK(t.dim() == 3, "_nested_tensor_from_mask: the input should be 3-D (N, L, D), got ",
              t.sizes());
  TORCH_CHECK(t.size(0) == mask.size(0) && t.size(1) == mask.size(1),
              "_nested_tensor_from_mask: the mask size ", mask.sizes(),
              " should match the input's first two dimensions ", t.sizes());
  c10::DeviceGuard guard(mask.device());
  if (mask.size(1) == 0) return mask.size(0) == 0;
  // Every row: at least one kept position, and none after a dropped one.
  const at::Tensor starts_kept = mask.select(1, 0).all();
  const at::Tensor resumes =
      (mask.narrow(1, 1, mask.size(1) - 1) & mask.narrow(1, 0, mask.size(1) - 1).logical_not())
          .any();
  return (starts_kept & resumes.logical_not()).item<bool>();
}

at::Tensor nested_tensor_from_mask(const at::Tensor& t, const at::Tensor& mask, bool mask_check) {
  const bool aligned = left_aligned(t, mask);  // checks the operands too
  TORCH_CHECK(!mask_check || aligned, "_nested_tensor_from_mask: the mask is not left-aligned ",
              "(every row must keep a prefix of at least one position)");
  c10::DeviceGuard guard(t.device());
  const at::Tensor lengths = mask.sum(1).to(at::kCPU, at::kLong);
  return nested_from_padded(
      t, {lengths.data_ptr<int64_t>(), lengths.data_ptr<int64_t>() + lengths.numel()});
}

at::Tensor to_padded_tensor(const at::Tensor& self, double padding,
                            at::OptionalIntArrayRef output_size) {
  const at::native::NestedTensorImpl* nested = at::native::get_nested_tensor_impl(self);
  const at::Tensor sizes = nested->get_nested_sizes().to(at::kLong).contiguous();
  const int64_t batch = sizes.size(0), dims = sizes.dim() == 2 ? sizes.size(1) : 0;
  std::vector<int64_t> shape{batch};
  for (int64_t d = 0; d < dims; ++d) {
    shape.push_back(batch == 0 ? 0 : sizes.select(1, d).max().item<int64_t>());
  }
  if (output_size.has_value()) {
    TORCH_CHECK(output_size->size() == shape.size(), "to_padded_tensor: output_size ", *output_size,
                " should have ", shape.size(), " dimensions");
    for (size_t d = 0; d < shape.size(); ++d) {
      TORCH_CHECK((*output_size)[d] >= shape[d], "to_padded_tensor: output_size ", *output_size,
                  " is smaller than the nested tensor's largest component ", shape);
    }
    shape = output_size->vec();
  }
  const at::Tensor buffer = nested->get_buffer();
  c10::DeviceGuard guard(buffer.device());
  at::Tensor padded = at::full(shape, padding, buffer.options());
  int64_t offset = 0;
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<int64_t> component(sizes[i].data_ptr<int64_t>(),
                                   sizes[i].data_ptr<int64_t>() + dims);
    const int64_t count =
        std::accumulate(component.begin(), component.end(), int64_t{1}, std::multiplies<>());
    at::Tensor target = padded[i];
    for (int64_t d = 0; d < dims; ++d) target = target.narrow(d, 0, component[d]);
    target.copy_(buffer.narrow(0, offset, count).view(component));
    offset += count;
  }
  return padded;
}

at::Tensor nested_encoder_layer_fwd(const at::Tensor& src, int64_t embed_dim, int64_t num_heads,
                                    const at::Tensor& qkv_weight, const at::Tensor& qkv_bias,
                                    const at::Tensor& proj_weight, const at::Tensor& proj_bias,
                                    bool use_gelu, bool norm_first, double eps,
                                    const at::Tensor& norm_weight_1, const at::Tensor& norm_bias_1,
                                    const at::Tensor& norm_weight_2, const at::Tensor& norm_bias_2,
                                    const at::Tensor& ffn_weight_1, const at::Tensor& ffn_bias_1,
                                    const at::Tensor& ffn_weight_2, const at::Tensor& ffn_bias_2,
                                    const std::optional<at::Tensor>& mask,
                                    std::optional<int64_t> /*mask_type*/) {
  TORCH_CHECK(!(mask.has_value() && mask->defined()),
              "_transformer_encoder_layer_fwd: a nested tensor with a mask is not supported");
  const at::Tensor& sizes = at::native::get_nested_tensor_impl(src)->get_nested_sizes();
  TORCH_CHECK(sizes.dim() == 2 && sizes.size(1) == 2,
              "_transformer_encoder_layer_fwd: expected a nested tensor of [L, D] components");
  const std::vector<int64_t> lengths = component_lengths(sizes);
  const at::Tensor padded = to_padded_tensor(src, 0.0, std::nullopt);
  c10::DeviceGuard guard(padded.device());
  const at::Tensor lengths_on_device =
      at::tensor(lengths, at::TensorOptions(at::kLong)).to(padded.device());
  const at::Tensor padding = at::arange(padded.size(1), lengths_on_device.options()).unsqueeze(0) >=
                             lengths_on_device.unsqueeze(1);
  const at::Tensor out =
      encoder_layer_forward({embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                             use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                             norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2},
                            padded, padding, /*key padding*/ 1);
  return nested_from_padded(out, lengths);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_nested_tensor_from_mask", nested_tensor_from_mask);
  m.impl("_nested_tensor_from_mask_left_aligned", left_aligned);
}

TORCH_LIBRARY_IMPL(aten, NestedTensorPrivateUse1, m) {
  m.impl("_transformer_encoder_layer_fwd", nested_encoder_layer_fwd);
  m.impl("to_padded_tensor", to_padded_tensor);
}

}  // namespace
}  // namespace torch_mlu::ops
