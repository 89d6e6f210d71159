// Native softmax and log-softmax with their gradients (softmax, log_softmax and cross_entropy
// decompose into these).
#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <type_traits>

#include "common.h"

namespace torch_mlu::ops {
namespace {

bool is_16_bit(c10::ScalarType type) { return type == c10::kHalf || type == c10::kBFloat16; }

template <bool log>
at::Tensor& softmax_out(const at::Tensor& self, int64_t dim, bool half_to_float, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(c10::isFloatingType(self.scalar_type()), '"', log ? "log_softmax" : "softmax",
              "\" not implemented for '", self.scalar_type(), "'");
  TORCH_CHECK(!half_to_float || is_16_bit(self.scalar_type()),
              "conversion is supported for Half type only");
  const int64_t d = at::maybe_wrap_dim(dim, self.dim());
  const c10::ScalarType type = half_to_float ? c10::kFloat : self.scalar_type();
  prepare_out(out, self.sizes(), type, device);
  at::Tensor result =
      out.scalar_type() == type ? out : at::empty(self.sizes(), out.options().dtype(type));
  using Softmax = std::conditional_t<log, hal::LogSoftmax, hal::Softmax>;
  launch(result, Softmax{describe(result), describe(self), static_cast<int>(d)});
  if (!result.is_same(out)) out.copy_(result);
  return out;
}
template <bool log>
at::Tensor softmax(const at::Tensor& self, int64_t dim, bool half_to_float) {
  const c10::ScalarType type = half_to_float ? c10::kFloat : self.scalar_type();
  at::Tensor out = new_output(self.sizes(), type, self, common_device({&self}));
  return softmax_out<log>(self, dim, half_to_float, out);
}

// A half_to_float forward gets float gradients and returns them in the input's 16-bit dtype.
c10::ScalarType gradient_type(const at::Tensor& output, c10::ScalarType input_dtype) {
  const bool narrows = is_16_bit(input_dtype) && output.scalar_type() == c10::kFloat;
  return narrows ? input_dtype : output.scalar_type();
}

template <bool log>
at::Tensor& softmax_backward_out(const at::Tensor& grad_output, const at::Tensor& output,
                                 int64_t dim, c10::ScalarType input_dtype, at::Tensor& grad_input) {
  const c10::Device device = common_device({&grad_output, &output, &grad_input});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(grad_output.sizes() == output.sizes(),
              "grad_output and output must have the same shape, got ", grad_output.sizes(), " and ",
              output.sizes());
  TORCH_CHECK(c10::isFloatingType(output.scalar_type()), '"',
              log ? "log_softmax_backward" : "softmax_backward", "\" not implemented for '",
              output.scalar_type(), "'");
  const int64_t d = at::maybe_wrap_dim(dim, output.dim());
  const c10::ScalarType type = gradient_type(output, input_dtype);
  const at::Tensor grad = operand(grad_output, output.scalar_type(), output.sizes(), device);
  prepare_out(grad_input, output.sizes(), type, device);
  at::Tensor result = grad_input.scalar_type() == type
                          ? grad_input
                          : at::empty(output.sizes(), grad_input.options().dtype(type));
  using SoftmaxBackward = std::conditional_t<log, hal::LogSoftmaxBackward, hal::SoftmaxBackward>;
  launch(result,
         SoftmaxBackward{describe(result), describe(grad), describe(output), static_cast<int>(d)});
  if (!result.is_same(grad_input)) grad_input.copy_(result);
  return grad_input;
}
template <bool log>
at::Tensor softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                            c10::ScalarType input_dtype) {
  at::Tensor grad_input = new_output(output.sizes(), gradient_type(output, input_dtype), output,
                                     common_device({&output}));
  return softmax_backward_out<log>(grad_output, output, dim, input_dtype, grad_input);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_softmax", softmax<false>);
  m.impl("_softmax.out", softmax_out<false>);
  m.impl("_log_softmax", softmax<true>);
  m.impl("_log_softmax.out", softmax_out<true>);
  m.impl("_softmax_backward_data", softmax_backward<false>);
  m.impl("_softmax_backward_data.out", softmax_backward_out<false>);
  m.impl("_log_softmax_backward_data", softmax_backward<true>);
  m.impl("_log_softmax_backward_data.out", softmax_backward_out<true>);
}

}  // namespace
}  // namespace torch_mlu::ops
