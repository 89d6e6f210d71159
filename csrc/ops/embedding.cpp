// Native embedding gradients and embedding bags (embedding itself is PyTorch's composite over
// index_select). The bags' bookkeeping (offset2bag, bag_size, max_indices) has the shapes PyTorch's
// meta function gives a non-CPU device (compiled graphs check them) and the values of PyTorch's
// CPU kernel, computed in int64 and returned in the promoted dtype of indices and offsets.
#include <ATen/ATen.h>
#include <ATen/TensorUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using Bag4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

constexpr int64_t kModeSum = 0, kModeMax = 2;

at::Tensor dense_long(const at::Tensor& t, c10::Device device) {
  return operand(t, at::kLong, t.sizes(), device).contiguous();
}

std::optional<at::Tensor> defined(const std::optional<at::Tensor>& t) {
  return t && t->defined() ? t : std::nullopt;
}

// ---- embedding ---------------------------------------------------------------------------------

at::Tensor embedding_dense_backward(const at::Tensor& grad_output, const at::Tensor& indices,
                                    int64_t num_weights, int64_t padding_idx,
                                    bool scale_grad_by_freq) {
  const c10::Device device = common_device({&grad_output, &indices});
  c10::DeviceGuard guard(device);
  at::checkScalarTypes("embedding_backward", at::TensorArg(indices, "indices", 2),
                       {at::kLong, at::kInt});
  const int64_t features = grad_output.size(-1), n = indices.numel();
  const at::Tensor grad = grad_output.reshape({n, features});
  const at::Tensor idx = dense_long(indices.reshape({n}), device);
  at::Tensor grad_weight = at::zeros({num_weights, features}, grad_output.options());
  if (n == 0 || features == 0) return grad_weight;
  launch(grad_weight, hal::EmbeddingDenseBackward{.grad_weight = describe(grad_weight),
                                                  .grad = describe(grad),
                                                  .indices = describe(idx),
                                                  .padding_idx = padding_idx,
                                                  .scale_by_frequency = scale_grad_by_freq});
  return grad_weight;
}

// ---- embedding_bag -----------------------------------------------------------------------------

hal::EmbeddingBag bag_spec(const at::Tensor& indices, const at::Tensor& offsets, int64_t mode,
                           int64_t padding_idx, bool include_last_offset,
                           const std::optional<at::Tensor>& per_sample_weights = std::nullopt) {
  hal::EmbeddingBag bag;
  bag.indices = describe(indices);
  bag.offsets = describe(offsets);
  if (per_sample_weights) bag.per_sample_weights = describe(*per_sample_weights);
  bag.mode = static_cast<hal::BagMode>(mode);
  bag.padding_idx = padding_idx;
  bag.include_last_offset = include_last_offset;
  return bag;
}

Bag4 embedding_bag_forward(const at::Tensor& weight, const at::Tensor& indices,
                           const at::Tensor& offsets, int64_t mode,
                           const std::optional<at::Tensor>& per_sample_weights_opt,
                           bool include_last_offset, int64_t padding_idx) {
  const std::optional<at::Tensor> per_sample_weights = defined(per_sample_weights_opt);
  const at::Tensor none;
  const c10::Device device = common_device(
      {&weight, &indices, &offsets, per_sample_weights ? &*per_sample_weights : &none});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(
      indices.dim() == 1,
      "input has to be a 1D Tensor (flattened by embedding_bag), but got Tensor of dimension ",
      indices.dim());
  TORCH_CHECK(offsets.dim() == 1, "offsets has to be a 1D Tensor, but got Tensor of dimension ",
              offsets.dim());
  TORCH_CHECK(weight.dim() == 2, "weight has to be a 2D Tensor, but got Tensor of dimension ",
              weight.dim());
  at::checkScalarTypes("embedding_bag", at::TensorArg(indices, "indices", 1),
                       {at::kLong, at::kInt});
  at::checkScalarTypes("embedding_bag", at::TensorArg(offsets, "offsets", 1),
                       {at::kLong, at::kInt});
  at::checkScalarTypes("embedding_bag", at::TensorArg(weight, "weight", 1),
                       {at::kHalf, at::kBFloat16, at::kFloat, at::kDouble});
  TORCH_CHECK(mode >= 0 && mode <= kModeMax,
              "embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), got ", mode);
  if (per_sample_weights) {
    TORCH_CHECK(mode == kModeSum,
                "embedding_bag: per_sample_weights only supported with mode='sum'");
    at::checkSameType("embedding_bag", at::TensorArg(weight, "weight", 1),
                      at::TensorArg(*per_sample_weights, "per_sample_weights", 1));
    TORCH_CHECK(per_sample_weights->dim() == 1 && per_sample_weights->numel() == indices.numel(),
                "embedding_bag: per_sample_weights must be 1-D with one weight per index");
  }
  if (include_last_offset) {
    TORCH_CHECK(offsets.size(0) >= 1, "include_last_offset: number of offset should be at least 1");
  }
  const c10::ScalarType index_type = at::promoteTypes(indices.scalar_type(), offsets.scalar_type());
  const at::Tensor idx = dense_long(indices, device), offs = dense_long(offsets, device);
  const int64_t bags = include_last_offset ? offsets.size(0) - 1 : offsets.size(0);
  const auto long_options = weight.options().dtype(at::kLong);
  at::Tensor output = at::empty({bags, weight.size(1)}, weight.options());
  at::Tensor offset2bag = at::empty({indices.numel()}, long_options);
  at::Tensor bag_size = at::empty(offsets.sizes(), long_options);
  at::Tensor max_indices = mode == kModeMax ? at::empty({bags, weight.size(1)}, long_options)
                                            : at::empty({0}, long_options);
  launch(output, hal::EmbeddingBagForward{.bag = bag_spec(idx, offs, mode, padding_idx,
                                                          include_last_offset, per_sample_weights),
                                          .weight = describe(weight),
                                          .output = describe(output),
                                          .offset2bag = describe(offset2bag),
                                          .bag_size = describe(bag_size),
                                          .max_indices = describe(max_indices)});
  if (index_type != at::kLong) {
    offset2bag = offset2bag.to(index_type);
    bag_size = bag_size.to(index_type);
    max_indices = max_indices.to(index_type);
  }
  return {output, offset2bag, bag_size, max_indices};
}

Bag4 embedding_bag(const at::Tensor& weight, const at::Tensor& indices, const at::Tensor& offsets,
                   bool, int64_t mode, bool, const std::optional<at::Tensor>& per_sample_weights,
                   bool include_last_offset, int64_t padding_idx) {
  return embedding_bag_forward(weight, indices, offsets, mode, per_sample_weights,
                               include_last_offset, padding_idx);
}

at::Tensor embedding_bag_dense_backward(const at::Tensor& grad, const at::Tensor& indices,
                                        const at::Tensor& offset2bag, const at::Tensor& bag_size,
                                        const at::Tensor& maximum_indices, int64_t num_weights,
                                        bool scale_grad_by_freq, int64_t mode,
                                        const std::optional<at::Tensor>& per_sample_weights_opt,
                                        int64_t padding_idx) {
  const std::optional<at::Tensor> per_sample_weights = defined(per_sample_weights_opt);
  const c10::Device device =
      common_device({&grad, &indices, &offset2bag, &bag_size, &maximum_indices});
  c10::DeviceGuard guard(device);
  at::checkScalarTypes("embedding_bag", at::TensorArg(grad, "grad_", 1),
                       {at::kHalf, at::kBFloat16, at::kFloat, at::kDouble});
  TORCH_CHECK(grad.dim() == 2, "embedding_bag_backward: grad must be 2-D, got ", grad.dim(), "-D");
  TORCH_CHECK(mode == kModeMax || offset2bag.numel() == indices.numel(),
              "embedding_bag_backward: offset2bag must have one bag per index, got ",
              offset2bag.numel(), " for ", indices.numel(), " indices");
  const at::Tensor idx = dense_long(indices.reshape({-1}), device);
  const at::Tensor o2b = dense_long(offset2bag, device), bs = dense_long(bag_size, device);
  const at::Tensor mi = dense_long(maximum_indices, device);
  const at::Tensor offsets = at::empty({0}, idx.options());
  at::Tensor grad_weight = at::zeros({num_weights, grad.size(1)}, grad.options());
  if (grad.numel() == 0) return grad_weight;
  launch(grad_weight, hal::EmbeddingBagBackward{.bag = bag_spec(idx, offsets, mode, padding_idx,
                                                                false, per_sample_weights),
                                                .grad_weight = describe(grad_weight),
                                                .grad = describe(grad),
                                                .offset2bag = describe(o2b),
                                                .bag_size = describe(bs),
                                                .max_indices = describe(mi),
                                                .scale_by_frequency = scale_grad_by_freq});
  return grad_weight;
}

at::Tensor embedding_bag_backward(const at::Tensor& grad, const at::Tensor& indices,
                                  const at::Tensor& offsets, const at::Tensor& offset2bag,
                                  const at::Tensor& bag_size, const at::Tensor& maximum_indices,
                                  int64_t num_weights, bool scale_grad_by_freq, int64_t mode,
                                  bool sparse, const std::optional<at::Tensor>& per_sample_weights,
                                  int64_t padding_idx) {
  if (sparse) {  // PyTorch's composite: the per-index gradients as a sparse COO tensor
    return at::_embedding_bag_sparse_backward(grad, indices, offsets, offset2bag, bag_size,
                                              num_weights, scale_grad_by_freq, mode,
                                              per_sample_weights, padding_idx);
  }
  return embedding_bag_dense_backward(grad, indices, offset2bag, bag_size, maximum_indices,
                                      num_weights, scale_grad_by_freq, mode, per_sample_weights,
                                      padding_idx);
}

at::Tensor embedding_bag_per_sample_weights_backward(const at::Tensor& grad,
                                                     const at::Tensor& weight,
                                                     const at::Tensor& indices,
                                                     const at::Tensor& /*offsets*/,
                                                     const at::Tensor& offset2bag, int64_t mode,
                                                     int64_t padding_idx) {
  const c10::Device device = common_device({&grad, &weight, &indices, &offset2bag});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(mode == kModeSum,
              "embedding_bag_backward: per_sample_weights only supported for mode='sum'");
  TORCH_CHECK(
      grad.dim() == 2 && weight.dim() == 2 && grad.size(1) == weight.size(1),
      "embedding_bag_backward: grad and weight must be 2-D with the same number of features");
  const at::Tensor idx = dense_long(indices.reshape({-1}), device),
                   o2b = dense_long(offset2bag, device);
  const at::Tensor offsets = at::empty({0}, idx.options());
  at::Tensor result = at::empty({idx.numel()}, grad.options());
  if (result.numel() == 0) return result;
  launch(result, hal::EmbeddingBagPerSampleWeightsBackward{
                     .bag = bag_spec(idx, offsets, mode, padding_idx, false),
                     .grad_weights = describe(result),
                     .grad = describe(grad),
                     .weight = describe(weight),
                     .offset2bag = describe(o2b)});
  return result;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("embedding_dense_backward", embedding_dense_backward);
  m.impl("_embedding_bag", embedding_bag);
  m.impl("_embedding_bag_forward_only", embedding_bag);  // the same outputs, with or without grad
  m.impl("_embedding_bag_backward", embedding_bag_backward);
  m.impl("_embedding_bag_dense_backward", embedding_bag_dense_backward);
  m.impl("_embedding_bag_per_sample_weights_backward", embedding_bag_per_sample_weights_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
