// Native pooling: max_pool{2,3}d_with_indices, avg_pool{2,3}d, adaptive average and max pooling
// (2-D and 3-D), and their gradients; 1-D pools reach these through their 2-D forms. Shapes and
// arguments are checked as ATen checks them; the operations are in mlu/ops/pool.h.
#include <ATen/ATen.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <sstream>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using TensorPair = std::tuple<at::Tensor, at::Tensor>;

std::string join(c10::IntArrayRef values, const char* separator) {
  std::ostringstream s;
  for (std::size_t i = 0; i < values.size(); ++i) s << (i ? separator : "") << values[i];
  return s.str();
}

// One value per spatial dim from a PyTorch argument of 1 or spatial_dims values (empty allowed
// when a default is given).
std::array<int64_t, 3> per_dim(c10::IntArrayRef values, int spatial_dims, const char* op,
                               const char* name, c10::IntArrayRef fallback = {}) {
  if (values.empty() && !fallback.empty()) values = fallback;
  TORCH_CHECK(values.size() == 1 || static_cast<int>(values.size()) == spatial_dims, op, ": ", name,
              " must either be a single int, or a tuple of ", spatial_dims, " ints");
  std::array<int64_t, 3> out{1, 1, 1};
  for (int i = 0; i < spatial_dims; ++i) out[i] = values[values.size() == 1 ? 0 : i];
  return out;
}

// Checks the rank of a pooled input: [C, *spatial] or [N, C, *spatial], non-empty but for N.
void check_input(const at::Tensor& input, int spatial_dims, const char* op) {
  const int64_t dim = input.dim();
  bool valid = dim == spatial_dims + 1 || dim == spatial_dims + 2;
  for (int64_t i = dim == spatial_dims + 2 ? 1 : 0; valid && i < dim; ++i)
    valid = input.size(i) > 0;
  TORCH_CHECK(
      valid, op, ": Expected ", spatial_dims + 1, "D or ", spatial_dims + 2,
      "D (batch mode) tensor with optional 0 dim batch size for input, but got: ", input.sizes());
}

// Unbatched tensors are pooled as a batch of one.
at::Tensor batched(const at::Tensor& t, int spatial_dims) {
  return t.dim() == spatial_dims + 1 ? t.unsqueeze(0) : t;
}

int64_t pooled_size(int64_t size, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation,
                    bool ceil_mode) {
  const int64_t span = size + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= size + pad) --out;
  return out;
}

struct Pooling {
  hal::PoolParams params;
  std::vector<int64_t> out_shape;
};

Pooling kernel_pooling(const at::Tensor& input, int spatial_dims, c10::IntArrayRef kernel_size,
                       c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                       bool ceil_mode, const char* op, bool is_max) {
  check_input(input, spatial_dims, op);
  Pooling p;
  p.params.kernel = per_dim(kernel_size, spatial_dims, op, "kernel_size");
  p.params.stride = per_dim(stride, spatial_dims, op, "stride", kernel_size);
  p.params.padding = per_dim(padding, spatial_dims, op, "padding");
  p.params.dilation = per_dim(dilation, spatial_dims, op, "dilation");
  const auto& k = p.params.kernel;
  const auto& s = p.params.stride;
  const auto& pad = p.params.padding;
  const auto& d = p.params.dilation;
  for (int i = 0; i < spatial_dims; ++i) {
    TORCH_CHECK(k[i] > 0, op, ": kernel size should be greater than zero, but got ", kernel_size);
    TORCH_CHECK(s[i] > 0, op, ": stride should be greater than zero, but got ", stride);
    TORCH_CHECK(d[i] > 0, op, ": dilation should be greater than zero, but got ", dilation);
    TORCH_CHECK(pad[i] >= 0 && pad[i] <= (is_max ? (d[i] * (k[i] - 1) + 1) / 2 : k[i] / 2), op,
                ": pad should be at most half of effective kernel size, but got pad=", padding,
                ", kernel_size=", kernel_size, " and dilation=", dilation);
  }
  p.out_shape = input.sizes().vec();
  const int64_t first = input.dim() - spatial_dims;
  bool positive = true;
  for (int i = 0; i < spatial_dims; ++i) {
    p.out_shape[first + i] =
        pooled_size(input.size(first + i), k[i], pad[i], s[i], d[i], ceil_mode);
    positive = positive && p.out_shape[first + i] > 0;
  }
  TORCH_CHECK(positive, "Given input size: (", join(input.sizes().slice(first - 1), "x"),
              "). Calculated output size: (",
              join(c10::IntArrayRef(p.out_shape).slice(first - 1), "x"),
              "). Output size is too small");
  return p;
}

std::vector<int64_t> adaptive_shape(const at::Tensor& input, int spatial_dims,
                                    c10::IntArrayRef output_size, const char* op) {
  TORCH_CHECK(static_cast<int>(output_size.size()) == spatial_dims, op, ": output_size must be ",
              spatial_dims);
  check_input(input, spatial_dims, op);
  std::vector<int64_t> shape = input.sizes().vec();
  for (int i = 0; i < spatial_dims; ++i) {
    TORCH_CHECK(output_size[i] >= 0, op,
                ": elements of output_size must be greater than or equal to 0 but received ",
                output_size);
    shape[input.dim() - spatial_dims + i] = output_size[i];
  }
  return shape;
}

at::Tensor new_pooled(c10::IntArrayRef shape, const at::Tensor& input, c10::ScalarType dtype) {
  return at::empty(shape, input.options().dtype(dtype), input.suggest_memory_format());
}

void fit_out(at::Tensor& out, c10::IntArrayRef shape, const at::Tensor& input,
             c10::ScalarType dtype) {
  TORCH_CHECK(out.scalar_type() == dtype, "expected out tensor of dtype ", dtype, " but got ",
              out.scalar_type());
  TORCH_CHECK(out.device() == input.device(), "Expected out tensor to be on ", input.device(),
              " but got ", out.device());
  at::native::resize_output(out, shape);
}

void check_grad(const at::Tensor& grad_out, c10::IntArrayRef expected, const char* op) {
  TORCH_CHECK(grad_out.sizes() == expected, op, ": expected grad_output of size ", expected,
              ", but got ", grad_out.sizes());
}

// ---- max pooling -----------------------------------------------------------------------------

const char* max_pool_name(int spatial_dims) {
  return spatial_dims == 2 ? "max_pool2d" : "max_pool3d";
}

template <int spatial_dims>
Pooling max_pooling(const at::Tensor& input, c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                    c10::IntArrayRef padding, c10::IntArrayRef dilation, bool ceil_mode) {
  const char* op = max_pool_name(spatial_dims);
  TORCH_CHECK_NOT_IMPLEMENTED(
      input.scalar_type() != at::kBool && !c10::isComplexType(input.scalar_type()), "\"", op,
      "\" not implemented for '", input.scalar_type(), "'");
  return kernel_pooling(input, spatial_dims, kernel_size, stride, padding, dilation, ceil_mode, op,
                        true);
}

void launch_max_pool(const hal::PoolParams& p, const at::Tensor& input, const at::Tensor& out,
                     const at::Tensor& indices, int spatial_dims) {
  launch(out, hal::MaxPool{p, describe(batched(out, spatial_dims)),
                           describe(batched(indices, spatial_dims)),
                           describe(batched(input, spatial_dims))});
}

template <int spatial_dims>
TensorPair max_pool(const at::Tensor& input, c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                    c10::IntArrayRef padding, c10::IntArrayRef dilation, bool ceil_mode) {
  c10::DeviceGuard guard(common_device({&input}));
  const Pooling p =
      max_pooling<spatial_dims>(input, kernel_size, stride, padding, dilation, ceil_mode);
  at::Tensor out = new_pooled(p.out_shape, input, input.scalar_type());
  at::Tensor indices = new_pooled(p.out_shape, input, at::kLong);
  launch_max_pool(p.params, input, out, indices, spatial_dims);
  return {out, indices};
}

template <int spatial_dims>
std::tuple<at::Tensor&, at::Tensor&> max_pool_out(const at::Tensor& input,
                                                  c10::IntArrayRef kernel_size,
                                                  c10::IntArrayRef stride, c10::IntArrayRef padding,
                                                  c10::IntArrayRef dilation, bool ceil_mode,
                                                  at::Tensor& out, at::Tensor& indices) {
  c10::DeviceGuard guard(common_device({&input, &out, &indices}));
  const Pooling p =
      max_pooling<spatial_dims>(input, kernel_size, stride, padding, dilation, ceil_mode);
  fit_out(out, p.out_shape, input, input.scalar_type());
  fit_out(indices, p.out_shape, input, at::kLong);
  launch_max_pool(p.params, input, out, indices, spatial_dims);
  return std::forward_as_tuple(out, indices);
}

// Gradient of any max pooling from its indices.
at::Tensor& max_pool_backward_into(const at::Tensor& grad_out, const at::Tensor& input,
                                   const at::Tensor& indices, int spatial_dims,
                                   at::Tensor& grad_in) {
  const c10::Device device = common_device({&grad_out, &input, &indices, &grad_in});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(indices.scalar_type() == at::kLong, "max_pool_backward: expected int64 indices, got ",
              indices.scalar_type());
  TORCH_CHECK(indices.sizes() == grad_out.sizes(), "max_pool_backward: indices of size ",
              indices.sizes(), " do not match grad_output of size ", grad_out.sizes());
  fit_out(grad_in, input.sizes(), input, input.scalar_type());
  const at::Tensor g = grad_out.to(input.scalar_type());
  launch(grad_in, hal::MaxPoolBackward{describe(batched(grad_in, spatial_dims)),
                                       describe(batched(g, spatial_dims)),
                                       describe(batched(indices, spatial_dims))});
  return grad_in;
}

template <int spatial_dims>
at::Tensor& max_pool_backward_out(const at::Tensor& grad_out, const at::Tensor& input,
                                  c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                                  c10::IntArrayRef padding, c10::IntArrayRef dilation,
                                  bool ceil_mode, const at::Tensor& indices, at::Tensor& grad_in) {
  const Pooling p =
      max_pooling<spatial_dims>(input, kernel_size, stride, padding, dilation, ceil_mode);
  check_grad(grad_out, p.out_shape, max_pool_name(spatial_dims));
  return max_pool_backward_into(grad_out, input, indices, spatial_dims, grad_in);
}

template <int spatial_dims>
at::Tensor max_pool_backward(const at::Tensor& grad_out, const at::Tensor& input,
                             c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                             c10::IntArrayRef padding, c10::IntArrayRef dilation, bool ceil_mode,
                             const at::Tensor& indices) {
  at::Tensor grad_in = new_pooled(input.sizes(), input, input.scalar_type());
  return max_pool_backward_out<spatial_dims>(grad_out, input, kernel_size, stride, padding,
                                             dilation, ceil_mode, indices, grad_in);
}

template <int spatial_dims>
std::tuple<at::Tensor&, at::Tensor&> adaptive_max_pool_out(const at::Tensor& input,
                                                           c10::IntArrayRef output_size,
                                                           at::Tensor& out, at::Tensor& indices) {
  const char* op = spatial_dims == 2 ? "adaptive_max_pool2d" : "adaptive_max_pool3d";
  const c10::Device device = common_device({&input, &out, &indices});
  c10::DeviceGuard guard(device);
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(input.scalar_type()), "\"", op,
                              "\" not implemented for '", input.scalar_type(), "'");
  const std::vector<int64_t> shape = adaptive_shape(input, spatial_dims, output_size, op);
  fit_out(out, shape, input, input.scalar_type());
  fit_out(indices, shape, input, at::kLong);
  launch(out, hal::AdaptiveMaxPool{describe(batched(out, spatial_dims)),
                                   describe(batched(indices, spatial_dims)),
                                   describe(batched(input, spatial_dims))});
  return std::forward_as_tuple(out, indices);
}

template <int spatial_dims>
TensorPair adaptive_max_pool(const at::Tensor& input, c10::IntArrayRef output_size) {
  const char* op = spatial_dims == 2 ? "adaptive_max_pool2d" : "adaptive_max_pool3d";
  const std::vector<int64_t> shape = adaptive_shape(input, spatial_dims, output_size, op);
  at::Tensor out = new_pooled(shape, input, input.scalar_type()),
             indices = new_pooled(shape, input, at::kLong);
  adaptive_max_pool_out<spatial_dims>(input, output_size, out, indices);
  return {out, indices};
}

template <int spatial_dims>
at::Tensor& adaptive_max_pool_backward_out(const at::Tensor& grad_out, const at::Tensor& input,
                                           const at::Tensor& indices, at::Tensor& grad_in) {
  return max_pool_backward_into(grad_out, input, indices, spatial_dims, grad_in);
}

template <int spatial_dims>
at::Tensor adaptive_max_pool_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                      const at::Tensor& indices) {
  at::Tensor grad_in = new_pooled(input.sizes(), input, input.scalar_type());
  return max_pool_backward_into(grad_out, input, indices, spatial_dims, grad_in);
}

// ---- average pooling -------------------------------------------------------------------------

void check_averageable(const at::Tensor& input, const char* op) {
  const auto type = input.scalar_type();
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(type) || type == at::kLong, "\"", op,
                              "\" not implemented for '", type, "'");
}

Pooling avg_pooling(const at::Tensor& input, int spatial_dims, c10::IntArrayRef kernel_size,
                    c10::IntArrayRef stride, c10::IntArrayRef padding, bool ceil_mode,
                    bool count_include_pad, std::optional<int64_t> divisor_override,
                    const char* op) {
  TORCH_CHECK(!divisor_override.has_value() || *divisor_override != 0, op,
              ": divisor must be not zero");
  Pooling p =
      kernel_pooling(input, spatial_dims, kernel_size, stride, padding, {1}, ceil_mode, op, false);
  p.params.count_include_pad = count_include_pad;
  p.params.divisor_override = divisor_override.value_or(0);
  return p;
}

template <int spatial_dims>
at::Tensor& avg_pool_out(const at::Tensor& input, c10::IntArrayRef kernel_size,
                         c10::IntArrayRef stride, c10::IntArrayRef padding, bool ceil_mode,
                         bool count_include_pad, std::optional<int64_t> divisor_override,
                         at::Tensor& out) {
  const char* op = spatial_dims == 2 ? "avg_pool2d" : "avg_pool3d";
  const c10::Device device = common_device({&input, &out});
  c10::DeviceGuard guard(device);
  check_averageable(input, op);
  const Pooling p = avg_pooling(input, spatial_dims, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override, op);
  fit_out(out, p.out_shape, input, input.scalar_type());
  launch(out, hal::AvgPool{p.params, describe(batched(out, spatial_dims)),
                           describe(batched(input, spatial_dims))});
  return out;
}

template <int spatial_dims>
at::Tensor avg_pool(const at::Tensor& input, c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                    c10::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                    std::optional<int64_t> divisor_override) {
  const char* op = spatial_dims == 2 ? "avg_pool2d" : "avg_pool3d";
  const Pooling p = avg_pooling(input, spatial_dims, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override, op);
  at::Tensor out = new_pooled(p.out_shape, input, input.scalar_type());
  return avg_pool_out<spatial_dims>(input, kernel_size, stride, padding, ceil_mode,
                                    count_include_pad, divisor_override, out);
}

template <int spatial_dims>
at::Tensor& avg_pool_backward_out(const at::Tensor& grad_out, const at::Tensor& input,
                                  c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                                  c10::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                  std::optional<int64_t> divisor_override, at::Tensor& grad_in) {
  const char* op = spatial_dims == 2 ? "avg_pool2d_backward" : "avg_pool3d_backward";
  const c10::Device device = common_device({&grad_out, &input, &grad_in});
  c10::DeviceGuard guard(device);
  check_averageable(input, op);
  const Pooling p = avg_pooling(input, spatial_dims, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override, op);
  check_grad(grad_out, p.out_shape, op);
  fit_out(grad_in, input.sizes(), input, input.scalar_type());
  const at::Tensor g = grad_out.to(input.scalar_type());
  launch(grad_in, hal::AvgPoolBackward{p.params, describe(batched(grad_in, spatial_dims)),
                                       describe(batched(g, spatial_dims))});
  return grad_in;
}

template <int spatial_dims>
at::Tensor avg_pool_backward(const at::Tensor& grad_out, const at::Tensor& input,
                             c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                             c10::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                             std::optional<int64_t> divisor_override) {
  at::Tensor grad_in = new_pooled(input.sizes(), input, input.scalar_type());
  return avg_pool_backward_out<spatial_dims>(grad_out, input, kernel_size, stride, padding,
                                             ceil_mode, count_include_pad, divisor_override,
                                             grad_in);
}

template <int spatial_dims>
at::Tensor& adaptive_avg_pool_out(const at::Tensor& input, c10::IntArrayRef output_size,
                                  at::Tensor& out) {
  const char* op = spatial_dims == 2 ? "adaptive_avg_pool2d" : "adaptive_avg_pool3d";
  const c10::Device device = common_device({&input, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(input.scalar_type()), "\"", op,
                              "\" not implemented for '", input.scalar_type(), "'");
  const std::vector<int64_t> shape = adaptive_shape(input, spatial_dims, output_size, op);
  fit_out(out, shape, input, input.scalar_type());
  launch(out, hal::AdaptiveAvgPool{describe(batched(out, spatial_dims)),
                                   describe(batched(input, spatial_dims))});
  return out;
}

template <int spatial_dims>
at::Tensor adaptive_avg_pool(const at::Tensor& input, c10::IntArrayRef output_size) {
  const char* op = spatial_dims == 2 ? "adaptive_avg_pool2d" : "adaptive_avg_pool3d";
  at::Tensor out =
      new_pooled(adaptive_shape(input, spatial_dims, output_size, op), input, input.scalar_type());
  return adaptive_avg_pool_out<spatial_dims>(input, output_size, out);
}

template <int spatial_dims>
at::Tensor& adaptive_avg_pool_backward_out(const at::Tensor& grad_out, const at::Tensor& input,
                                           at::Tensor& grad_in) {
  const c10::Device device = common_device({&grad_out, &input, &grad_in});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(
      grad_out.dim() == input.dim() && grad_out.sizes().slice(0, input.dim() - spatial_dims) ==
                                           input.sizes().slice(0, input.dim() - spatial_dims),
      "adaptive_avg_pool_backward: grad_output of size ", grad_out.sizes(),
      " does not match input of size ", input.sizes());
  fit_out(grad_in, input.sizes(), input, input.scalar_type());
  const at::Tensor g = grad_out.to(input.scalar_type());
  launch(grad_in, hal::AdaptiveAvgPoolBackward{describe(batched(grad_in, spatial_dims)),
                                               describe(batched(g, spatial_dims))});
  return grad_in;
}

template <int spatial_dims>
at::Tensor adaptive_avg_pool_backward(const at::Tensor& grad_out, const at::Tensor& input) {
  at::Tensor grad_in = new_pooled(input.sizes(), input, input.scalar_type());
  return adaptive_avg_pool_backward_out<spatial_dims>(grad_out, input, grad_in);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("max_pool2d_with_indices", max_pool<2>);
  m.impl("max_pool2d_with_indices.out", max_pool_out<2>);
  m.impl("max_pool2d_with_indices_backward", max_pool_backward<2>);
  m.impl("max_pool2d_with_indices_backward.grad_input", max_pool_backward_out<2>);
  m.impl("max_pool3d_with_indices", max_pool<3>);
  m.impl("max_pool3d_with_indices.out", max_pool_out<3>);
  m.impl("max_pool3d_with_indices_backward", max_pool_backward<3>);
  m.impl("max_pool3d_with_indices_backward.grad_input", max_pool_backward_out<3>);
  m.impl("adaptive_max_pool2d", adaptive_max_pool<2>);
  m.impl("adaptive_max_pool2d.out", adaptive_max_pool_out<2>);
  m.impl("adaptive_max_pool2d_backward", adaptive_max_pool_backward<2>);
  m.impl("adaptive_max_pool2d_backward.grad_input", adaptive_max_pool_backward_out<2>);
  m.impl("adaptive_max_pool3d", adaptive_max_pool<3>);
  m.impl("adaptive_max_pool3d.out", adaptive_max_pool_out<3>);
  m.impl("adaptive_max_pool3d_backward", adaptive_max_pool_backward<3>);
  m.impl("adaptive_max_pool3d_backward.grad_input", adaptive_max_pool_backward_out<3>);
  m.impl("avg_pool2d", avg_pool<2>);
  m.impl("avg_pool2d.out", avg_pool_out<2>);
  m.impl("avg_pool2d_backward", avg_pool_backward<2>);
  m.impl("avg_pool2d_backward.grad_input", avg_pool_backward_out<2>);
  m.impl("avg_pool3d", avg_pool<3>);
  m.impl("avg_pool3d.out", avg_pool_out<3>);
  m.impl("avg_pool3d_backward", avg_pool_backward<3>);
  m.impl("avg_pool3d_backward.grad_input", avg_pool_backward_out<3>);
  m.impl("_adaptive_avg_pool2d", adaptive_avg_pool<2>);
  m.impl("adaptive_avg_pool2d.out", adaptive_avg_pool_out<2>);
  m.impl("_adaptive_avg_pool2d_backward", adaptive_avg_pool_backward<2>);
  m.impl("_adaptive_avg_pool3d", adaptive_avg_pool<3>);
  m.impl("adaptive_avg_pool3d.out", adaptive_avg_pool_out<3>);
  m.impl("_adaptive_avg_pool3d_backward", adaptive_avg_pool_backward<3>);
}

}  // namespace
}  // namespace torch_mlu::ops
