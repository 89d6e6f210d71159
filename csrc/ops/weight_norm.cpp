// Weight normalisation's fused form (_weight_norm_interface, which torch._weight_norm uses for
// dim 0 or the last dim) and its gradient, composed of native operators with the CPU kernel's
// formulas: w = v * g / |v|, |v| taken over every dimension but dim.
#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

namespace torch_mlu::ops {
namespace {

// The dimensions the norm is taken over: all but dim (all of them for dim -1, as norm_except_dim).
std::vector<int64_t> reduced_dims(const at::Tensor& v, int64_t dim) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < v.dim(); ++d) {
    if (dim == -1 || d != dim) dims.push_back(d);
  }
  return dims;
}

std::tuple<at::Tensor, at::Tensor> weight_norm(const at::Tensor& v, const at::Tensor& g,
                                               int64_t dim) {
  c10::DeviceGuard guard(v.device());
  TORCH_CHECK(v.device() == g.device(), "weight_norm: v and g must be on the same device, got ",
              v.device(), " and ", g.device());
  const at::Tensor norms = at::norm_except_dim(v, 2, dim);
  return {v * (g / norms), norms};
}

std::tuple<at::Tensor, at::Tensor> weight_norm_backward(const at::Tensor& grad_w,
                                                        const at::Tensor& v, const at::Tensor& g,
                                                        const at::Tensor& norms, int64_t dim) {
  c10::DeviceGuard guard(v.device());
  TORCH_CHECK(dim == -1 || (dim >= 0 && dim < v.dim()), "weight_norm backward: dim ", dim,
              " is out of range for ", v.dim(), " dimensions");
  // grad_g = sum(grad_w * v over all but dim) / norms; grad_v = g / norms * (grad_w - v * grad_g /
  // norms)
  const at::Tensor grad_g =
      (grad_w * v).sum(reduced_dims(v, dim), /*keepdim=*/true).reshape(norms.sizes()) / norms;
  const at::Tensor grad_v = (g / norms) * (grad_w - v * (grad_g / norms));
  return {grad_v, grad_g.reshape(g.sizes())};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_weight_norm_interface", weight_norm);
  m.impl("_weight_norm_interface_backward", weight_norm_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
