// Activations with several parameters and their gradients: elu (so celu and selu), softplus,
// hardtanh (so relu6), and glu and prelu (composed of native operators). The operations are in
// mlu/ops/elementwise.h.
#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

// out = operation(self), out of self's shape and a floating dtype.
template <typename Operation>
at::Tensor& activation_into(const at::Tensor& self, at::Tensor& out, const char* name,
                            Operation operation) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK_NOT_IMPLEMENTED(c10::isFloatingType(self.scalar_type()), "\"", name,
                              "\" not implemented for '", self.scalar_type(), "'");
  prepare_out(out, self.sizes(), self.scalar_type(), device);
  check_overlap(out, {&self});
  const at::Tensor in = operand(self, out.scalar_type(), out.sizes(), device);
  operation.out = describe(out);
  operation.in = describe(in);
  launch(out, operation);
  return out;
}

// grad_in = operation(grad_out, x), all of x's shape.
template <typename Operation>
at::Tensor& gradient_into(const at::Tensor& grad_out, const at::Tensor& x, at::Tensor& grad_in,
                          const char* name, Operation operation) {
  const c10::Device device = common_device({&grad_out, &x, &grad_in});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(grad_out.sizes() == x.sizes(), name, ": grad_output of shape ", grad_out.sizes(),
              " for an input of shape ", x.sizes());
  TORCH_CHECK_NOT_IMPLEMENTED(c10::isFloatingType(x.scalar_type()), "\"", name,
                              "\" not implemented for '", x.scalar_type(), "'");
  prepare_out(grad_in, x.sizes(), x.scalar_type(), device);
  check_overlap(grad_in, {&grad_out, &x});
  const c10::ScalarType dtype = grad_in.scalar_type();
  const at::Tensor g = operand(grad_out, dtype, x.sizes(), device),
                   v = operand(x, dtype, x.sizes(), device);
  operation.grad_in = describe(grad_in);
  operation.grad_out = describe(g);
  operation.x = describe(v);
  launch(grad_in, operation);
  return grad_in;
}

at::Tensor new_like(const at::Tensor& self) {
  return new_output(self.sizes(), self.scalar_type(), self, common_device({&self}));
}

// ---- elu
// -------------------------------------------------------------------------------------------

at::Tensor& elu_out(const at::Tensor& self, const at::Scalar& alpha, const at::Scalar& scale,
                    const at::Scalar& input_scale, at::Tensor& out) {
  return activation_into(self, out, "elu",
                         hal::Elu{.alpha = alpha.toDouble(),
                                  .scale = scale.toDouble(),
                                  .input_scale = input_scale.toDouble()});
}
at::Tensor elu(const at::Tensor& self, const at::Scalar& alpha, const at::Scalar& scale,
               const at::Scalar& input_scale) {
  at::Tensor out = new_like(self);
  return elu_out(self, alpha, scale, input_scale, out);
}
at::Tensor& elu_(at::Tensor& self, const at::Scalar& alpha, const at::Scalar& scale,
                 const at::Scalar& input_scale) {
  return elu_out(self, alpha, scale, input_scale, self);
}
at::Tensor& elu_backward_out(const at::Tensor& grad_out, const at::Scalar& alpha,
                             const at::Scalar& scale, const at::Scalar& input_scale, bool is_result,
                             const at::Tensor& self_or_result, at::Tensor& grad_in) {
  TORCH_CHECK(
      !is_result || alpha.to<double>() >= 0.0,
      "In-place elu backward calculation is triggered with a negative slope which is not "
      "supported. "
      "This is caused by calling in-place forward function with a negative slope, please call "
      "out-of-place version instead.");
  return gradient_into(grad_out, self_or_result, grad_in, "elu_backward",
                       hal::EluBackward{.alpha = alpha.toDouble(),
                                        .scale = scale.toDouble(),
                                        .input_scale = input_scale.toDouble(),
                                        .x_is_result = is_result});
}
at::Tensor elu_backward(const at::Tensor& grad_out, const at::Scalar& alpha,
                        const at::Scalar& scale, const at::Scalar& input_scale, bool is_result,
                        const at::Tensor& self_or_result) {
  at::Tensor grad_in = new_like(self_or_result);
  return elu_backward_out(grad_out, alpha, scale, input_scale, is_result, self_or_result, grad_in);
}

// ---- softplus ----------------------------------------------------------------------------------

at::Tensor& softplus_out(const at::Tensor& self, const at::Scalar& beta,
                         const at::Scalar& threshold, at::Tensor& out) {
  return activation_into(self, out, "softplus",
                         hal::Softplus{.beta = beta.toDouble(), .threshold = threshold.toDouble()});
}
at::Tensor softplus(const at::Tensor& self, const at::Scalar& beta, const at::Scalar& threshold) {
  at::Tensor out = new_like(self);
  return softplus_out(self, beta, threshold, out);
}
at::Tensor& softplus_backward_out(const at::Tensor& grad_out, const at::Tensor& self,
                                  const at::Scalar& beta, const at::Scalar& threshold,
                                  at::Tensor& grad_in) {
  return gradient_into(
      grad_out, self, grad_in, "softplus_backward",
      hal::SoftplusBackward{.beta = beta.toDouble(), .threshold = threshold.toDouble()});
}
at::Tensor softplus_backward(const at::Tensor& grad_out, const at::Tensor& self,
                             const at::Scalar& beta, const at::Scalar& threshold) {
  at::Tensor grad_in = new_like(self);
  return softplus_backward_out(grad_out, self, beta, threshold, grad_in);
}

// ---- hardtanh (a clamp forward) -----------------------------------------------------------------

at::Tensor& hardtanh_out(const at::Tensor& self, const at::Scalar& low, const at::Scalar& high,
                         at::Tensor& out) {
  TORCH_CHECK(self.scalar_type() != at::kBool, "Bool inputs not supported for hardtanh");
  return at::clamp_out(out, self, low, high);
}
at::Tensor hardtanh(const at::Tensor& self, const at::Scalar& low, const at::Scalar& high) {
  at::Tensor out = new_like(self);
  return hardtanh_out(self, low, high, out);
}
at::Tensor& hardtanh_(at::Tensor& self, const at::Scalar& low, const at::Scalar& high) {
  return hardtanh_out(self, low, high, self);
}
at::Tensor& hardtanh_backward_out(const at::Tensor& grad_out, const at::Tensor& self,
                                  const at::Scalar& low, const at::Scalar& high,
                                  at::Tensor& grad_in) {
  return gradient_into(grad_out, self, grad_in, "hardtanh_backward",
                       hal::HardtanhBackward{.min = low.toDouble(), .max = high.toDouble()});
}
at::Tensor hardtanh_backward(const at::Tensor& grad_out, const at::Tensor& self,
                             const at::Scalar& low, const at::Scalar& high) {
  at::Tensor grad_in = new_like(self);
  return hardtanh_backward_out(grad_out, self, low, high, grad_in);
}

// glu's halves along dim: the values and the gates.
std::vector<at::Tensor> glu_halves(const at::Tensor& self, int64_t& dim) {
  TORCH_CHECK(self.dim() > 0, "glu does not support scalars because halving size must be even");
  dim = at::maybe_wrap_dim(dim, self.dim());
  TORCH_CHECK(self.size(dim) % 2 == 0, "Halving dimension must be even, but dimension ", dim,
              " is size ", self.size(dim));
  return self.chunk(2, dim);
}

at::Tensor glu(const at::Tensor& self, int64_t dim) {
  c10::DeviceGuard guard(self.device());
  const auto halves = glu_halves(self, dim);
  return halves[0] * halves[1].sigmoid();
}
at::Tensor& glu_out(const at::Tensor& self, int64_t dim, at::Tensor& out) {
  c10::DeviceGuard guard(self.device());
  const auto halves = glu_halves(self, dim);
  return at::mul_out(out, halves[0], halves[1].sigmoid());
}

// d/da = sigmoid(b), d/db = a sigmoid(b) (1 - sigmoid(b)), concatenated along dim.
std::array<at::Tensor, 2> glu_gradients(const at::Tensor& grad_out, const at::Tensor& self,
                                        int64_t& dim) {
  const auto halves = glu_halves(self, dim);
  const at::Tensor gate = halves[1].sigmoid();
  const at::Tensor grad_values = grad_out * gate;
  return {grad_values, grad_values * halves[0] * (1 - gate)};
}
at::Tensor glu_backward(const at::Tensor& grad_out, const at::Tensor& self, int64_t dim) {
  c10::DeviceGuard guard(self.device());
  const auto grads = glu_gradients(grad_out, self, dim);
  return at::cat({grads[0], grads[1]}, dim);
}
at::Tensor& glu_backward_out(const at::Tensor& grad_out, const at::Tensor& self, int64_t dim,
                             at::Tensor& grad_in) {
  c10::DeviceGuard guard(self.device());
  const auto grads = glu_gradients(grad_out, self, dim);
  return at::cat_out(grad_in, {grads[0], grads[1]}, dim);
}

// prelu's kernel: weight arrives shaped to broadcast over self (prelu reshapes it).
at::Tensor prelu_kernel(const at::Tensor& self, const at::Tensor& weight) {
  c10::DeviceGuard guard(self.device());
  return at::where(self > 0, self, weight * self);
}

// The gradients at self's (broadcast) shape; autograd sums weight's to its shape, as on the CPU.
std::tuple<at::Tensor, at::Tensor> prelu_kernel_backward(const at::Tensor& grad_out,
                                                         const at::Tensor& self,
                                                         const at::Tensor& weight) {
  c10::DeviceGuard guard(self.device());
  const at::Tensor positive = self > 0;
  return {at::where(positive, grad_out, weight * grad_out),
          at::where(positive, at::zeros({}, grad_out.options()), self * grad_out)};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_prelu_kernel", prelu_kernel);
  m.impl("_prelu_kernel_backward", prelu_kernel_backward);
  m.impl("glu", glu);
  m.impl("glu.out", glu_out);
  m.impl("glu_backward", glu_backward);
  m.impl("glu_backward.grad_input", glu_backward_out);
  m.impl("elu", elu);
  m.impl("elu_", elu_);
  m.impl("elu.out", elu_out);
  m.impl("elu_backward", elu_backward);
  m.impl("elu_backward.grad_input", elu_backward_out);
  m.impl("softplus", softplus);
  m.impl("softplus.out", softplus_out);
  m.impl("softplus_backward", softplus_backward);
  m.impl("softplus_backward.grad_input", softplus_backward_out);
  m.impl("hardtanh", hardtanh);
  m.impl("hardtanh_", hardtanh_);
  m.impl("hardtanh.out", hardtanh_out);
  m.impl("hardtanh_backward", hardtanh_backward);
  m.impl("hardtanh_backward.grad_input", hardtanh_backward_out);
}

}  // namespace
}  // namespace torch_mlu::ops
