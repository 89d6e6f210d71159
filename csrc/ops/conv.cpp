// Native convolutions: aten::convolution and aten::convolution_backward, which every conv*d and
// conv_transpose*d reaches, checked here as ATen checks them and computed by the device's
// convolution operations (mlu/ops/conv.h).
#include <ATen/ATen.h>
#include <ATen/native/ConvUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <optional>
#include <sstream>

#include "common.h"
#include "fused.h"

namespace torch_mlu::ops {
namespace {

std::string join(c10::IntArrayRef values, const char* separator) {
  std::ostringstream s;
  for (std::size_t i = 0; i < values.size(); ++i) s << (i ? separator : "") << values[i];
  return s.str();
}

std::array<int64_t, 3> expand_param(c10::IntArrayRef values, const char* name, int spatial_dims) {
  TORCH_CHECK(values.size() == 1 || static_cast<int>(values.size()) == spatial_dims, "expected ",
              name, " to be a single integer value or a list of ", spatial_dims,
              " values to match the convolution dimensions, but got ", name, "=", values);
  std::array<int64_t, 3> out{0, 0, 0};
  for (int i = 0; i < spatial_dims; ++i) out[i] = values[values.size() == 1 ? 0 : i];
  return out;
}

// Checks the arguments as ATen's convolution does and returns the kernel's parameters.
hal::ConvParams conv_params(const at::Tensor& input, const at::Tensor& weight,
                            c10::IntArrayRef stride, c10::IntArrayRef padding,
                            c10::IntArrayRef dilation, bool transposed,
                            c10::IntArrayRef output_padding, int64_t groups) {
  const int64_t dim = weight.dim();
  TORCH_CHECK(dim >= 3 && dim <= 5,
              "expected a 3-D, 4-D or 5-D weight for a 1-D, 2-D or 3-D convolution, got ", dim,
              "-D weight of size ", weight.sizes());
  TORCH_CHECK(input.dim() == dim, "Expected ", dim, "-dimensional input for ", dim,
              "-dimensional weight ", weight.sizes(), ", but got ", input.dim(),
              "-dimensional input of size ", input.sizes(), " instead");
  hal::ConvParams p;
  p.spatial_dims = static_cast<int>(dim - 2);
  p.stride = expand_param(stride, "stride", p.spatial_dims);
  p.padding = expand_param(padding, "padding", p.spatial_dims);
  p.dilation = expand_param(dilation, "dilation", p.spatial_dims);
  p.output_padding = expand_param(output_padding, "output_padding", p.spatial_dims);
  p.groups = groups;
  p.transposed = transposed;
  for (int i = 0; i < p.spatial_dims; ++i) {
    TORCH_CHECK(p.stride[i] > 0, "non-positive stride is not supported");
    TORCH_CHECK(p.padding[i] >= 0, "negative padding is not supported");
    TORCH_CHECK(p.dilation[i] > 0, "dilation should be greater than zero");
    TORCH_CHECK(p.output_padding[i] >= 0, "negative output_padding is not supported");
  }
  TORCH_CHECK(groups > 0, "non-positive groups is not supported");
  TORCH_CHECK(input.scalar_type() == weight.scalar_type(), "Input type (", input.scalar_type(),
              ") and weight type (", weight.scalar_type(), ") should be the same");
  TORCH_CHECK_NOT_IMPLEMENTED(
      input.scalar_type() != at::kBool && !c10::isComplexType(input.scalar_type()),
      "\"convolution\" not implemented for '", input.scalar_type(), "'");
  if (transposed) {
    TORCH_CHECK(input.size(1) == weight.size(0), "Given transposed=1, weight of size ",
                weight.sizes(), ", expected input", input.sizes(), " to have ", weight.size(0),
                " channels, but got ", input.size(1), " channels instead");
    TORCH_CHECK(weight.size(0) % groups == 0, "Given groups=", groups,
                ", expected weight to be divisible by ", groups,
                " at dimension 0, but got weight of size ", weight.sizes(), " instead");
    for (int i = 0; i < p.spatial_dims; ++i) {
      TORCH_CHECK(
          p.output_padding[i] < p.stride[i] || p.output_padding[i] < p.dilation[i],
          "output padding must be smaller than either stride or dilation, but got output_padding=",
          output_padding, ", stride=", stride, ", dilation=", dilation);
    }
  } else {
    TORCH_CHECK(weight.size(0) % groups == 0, "Given groups=", groups,
                ", expected weight to be divisible by ", groups,
                " at dimension 0, but got weight of size ", weight.sizes(), " instead");
    TORCH_CHECK(input.size(1) == weight.size(1) * groups, "Given groups=", groups,
                ", weight of size ", weight.sizes(), ", expected input", input.sizes(), " to have ",
                weight.size(1) * groups, " channels, but got ", input.size(1), " channels instead");
    std::vector<int64_t> padded, kernel;
    for (int i = 0; i < p.spatial_dims; ++i) {
      padded.push_back(input.size(i + 2) + 2 * p.padding[i]);
      kernel.push_back(p.dilation[i] * (weight.size(i + 2) - 1) + 1);
    }
    bool fits = true;
    for (int i = 0; i < p.spatial_dims; ++i) fits = fits && kernel[i] <= padded[i];
    TORCH_CHECK(fits, "Calculated padded input size per channel: (", join(padded, " x "),
                "). Kernel size: (", join(kernel, " x "),
                "). Kernel size can't be greater than actual input size");
  }
  return p;
}

std::vector<int64_t> output_shape(const hal::ConvParams& p, const at::Tensor& input,
                                  const at::Tensor& weight) {
  std::vector<int64_t> shape{input.size(0),
                             p.transposed ? weight.size(1) * p.groups : weight.size(0)};
  for (int i = 0; i < p.spatial_dims; ++i) {
    const int64_t in = input.size(i + 2), k = weight.size(i + 2);
    const int64_t extent = p.dilation[i] * (k - 1) + 1;
    const int64_t out =
        p.transposed ? (in - 1) * p.stride[i] - 2 * p.padding[i] + extent + p.output_padding[i]
                     : (in + 2 * p.padding[i] - extent) / p.stride[i] + 1;
    TORCH_CHECK(out > 0, "Given input size per channel: (", join(input.sizes().slice(2), " x "),
                "). Calculated output size per channel is not positive: ", out);
    shape.push_back(out);
  }
  return shape;
}

// The layout PyTorch's fake tensors give the outputs of a PrivateUse1 convolution (ATen's
// "Overrideable" backend): compiled graphs are built on them, so eager mode must agree.
c10::MemoryFormat conv_memory_format(const at::Tensor& input, const at::Tensor& weight) {
  return at::native::_determine_backend_memory_format(input, weight,
                                                      at::native::ConvBackend::Overrideable);
}

// Operands the kernel reads without copies: any layout without overlap or gaps.
at::Tensor dense(const at::Tensor& t, c10::MemoryFormat format) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous(format);
}

at::Tensor convolution_then(hal::Activation activation, const at::Tensor& input,
                            const at::Tensor& weight, const std::optional<at::Tensor>& bias_opt,
                            c10::IntArrayRef stride, c10::IntArrayRef padding,
                            c10::IntArrayRef dilation, bool transposed,
                            c10::IntArrayRef output_padding, int64_t groups) {
  const at::Tensor bias = bias_opt.value_or(at::Tensor());
  const c10::Device device = common_device({&input, &weight, &bias});
  c10::DeviceGuard guard(device);
  hal::ConvParams p =
      conv_params(input, weight, stride, padding, dilation, transposed, output_padding, groups);
  p.activation = activation;
  const int64_t out_channels = transposed ? weight.size(1) * groups : weight.size(0);
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, "Given weight of size ",
                weight.sizes(), ", expected bias to be 1-dimensional with ", out_channels,
                " elements, but got bias of size ", bias.sizes(), " instead");
    TORCH_CHECK(bias.scalar_type() == input.scalar_type(), "Input type (", input.scalar_type(),
                ") and bias type (", bias.scalar_type(), ") should be the same");
    TORCH_CHECK(bias.device() == device,
                "Expected all tensors to be on the same device, but found at least "
                "two devices, ",
                device, " and ", bias.device(), "!");
  }
  const c10::MemoryFormat format = conv_memory_format(input, weight);
  at::Tensor out = at::empty(output_shape(p, input, weight), input.options(), format);
  const at::Tensor x = dense(input, format), w = dense(weight, format);
  hal::Convolution operation{p, describe(out), describe(x), describe(w)};
  if (bias.defined()) operation.bias = describe(bias.contiguous());
  launch(out, operation);
  return out;
}

at::Tensor convolution(const at::Tensor& input, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                       c10::IntArrayRef padding, c10::IntArrayRef dilation, bool transposed,
                       c10::IntArrayRef output_padding, int64_t groups) {
  return convolution_then(hal::Activation::None, input, weight, bias, stride, padding, dilation,
                          transposed, output_padding, groups);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> convolution_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::OptionalIntArrayRef /*bias_sizes: grad_bias is [C_out]*/, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, bool transposed,
    c10::IntArrayRef output_padding, int64_t groups, std::array<bool, 3> output_mask) {
  const c10::Device device = common_device({&grad_output, &input, &weight});
  c10::DeviceGuard guard(device);
  const hal::ConvParams p =
      conv_params(input, weight, stride, padding, dilation, transposed, output_padding, groups);
  const std::vector<int64_t> out_shape = output_shape(p, input, weight);
  TORCH_CHECK(grad_output.sizes() == c10::IntArrayRef(out_shape), "Expected grad_output of size ",
              c10::IntArrayRef(out_shape), " for this convolution, but got ", grad_output.sizes());
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(), "grad_output type (",
              grad_output.scalar_type(), ") and input type (", input.scalar_type(),
              ") should be the same");
  const c10::MemoryFormat format = conv_memory_format(input, weight);
  at::Tensor grad_input, grad_weight, grad_bias;
  hal::ConvolutionBackward backward{.params = p};
  if (output_mask[0]) {
    grad_input = at::empty(input.sizes(), input.options(), format);
    backward.grad_in = describe(grad_input);
  }
  if (output_mask[1]) {
    grad_weight = at::empty(weight.sizes(), weight.options(), format);
    backward.grad_weight = describe(grad_weight);
  }
  if (output_mask[2]) {
    grad_bias = at::empty({out_shape[1]}, grad_output.options());
    backward.grad_bias = describe(grad_bias);
  }
  if (!backward.grad_in && !backward.grad_weight && !backward.grad_bias)
    return {grad_input, grad_weight, grad_bias};
  const at::Tensor go = dense(grad_output, format), x = dense(input, format),
                   w = dense(weight, format);
  backward.grad_out = describe(go);
  backward.in = describe(x);
  backward.weight = describe(w);
  launch(go, backward);
  return {grad_input, grad_weight, grad_bias};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("convolution", convolution);
  m.impl("convolution_backward", convolution_backward);
}

}  // namespace

// torch_mlu::conv_relu (fused.cpp): relu(conv(input) + bias), the relu as oneDNN's post-op.
at::Tensor conv_relu_on_device(const at::Tensor& input, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                               c10::IntArrayRef padding, c10::IntArrayRef dilation,
                               int64_t groups) {
  const std::vector<int64_t> no_output_padding(std::max<int64_t>(1, weight.dim() - 2), 0);
  return convolution_then(hal::Activation::Relu, input, weight, bias, stride, padding, dilation,
                          false, no_output_padding, groups);
}

at::Tensor empty_conv_output(const at::Tensor& input, const at::Tensor& weight,
                             c10::IntArrayRef stride, c10::IntArrayRef padding,
                             c10::IntArrayRef dilation, int64_t groups) {
  const std::vector<int64_t> no_output_padding(std::max<int64_t>(1, weight.dim() - 2), 0);
  const hal::ConvParams p =
      conv_params(input, weight, stride, padding, dilation, false, no_output_padding, groups);
  return at::empty(output_shape(p, input, weight), input.options(),
                   conv_memory_format(input, weight));
}

}  // namespace torch_mlu::ops
