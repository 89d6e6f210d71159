// Native upsampling: nearest (1-D to 3-D, and nearest-exact 2-D), linear / bilinear / trilinear
// and bicubic interpolation with their gradients; the interpolate() front end reaches these. The
// operations are in mlu/ops/upsample.h.
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/native/CPUFallback.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "../fallback.h"
#include "common.h"

namespace torch_mlu::ops {
namespace {

using OptScale = std::optional<double>;

hal::UpsampleScales scales_of(std::initializer_list<OptScale> given) {
  hal::UpsampleScales scales{0, 0, 0};
  std::size_t i = 0;
  for (const OptScale& s : given) scales[i++] = s.value_or(0);
  return scales;
}

// Checks sizes as ATen's upsample_*_common_check does and returns the output shape.
std::vector<int64_t> upsampled_shape(c10::IntArrayRef input_size, c10::IntArrayRef output_size,
                                     int spatial_dims) {
  TORCH_CHECK(static_cast<int>(output_size.size()) == spatial_dims,
              "It is expected output_size equals to ", spatial_dims, ", but got size ",
              output_size.size());
  TORCH_CHECK(static_cast<int>(input_size.size()) == spatial_dims + 2,
              "It is expected input_size equals to ", spatial_dims + 2, ", but got size ",
              input_size.size());
  bool positive = true;
  for (int i = 0; i < spatial_dims; ++i)
    positive = positive && input_size[i + 2] > 0 && output_size[i] > 0;
  TORCH_CHECK(positive, "Input and output sizes should be greater than 0, but got input ",
              input_size.slice(2), " output ", output_size);
  std::vector<int64_t> shape{input_size[0], input_size[1]};
  shape.insert(shape.end(), output_size.begin(), output_size.end());
  return shape;
}

void check_input(const at::Tensor& input, int spatial_dims) {
  TORCH_CHECK(input.dim() == spatial_dims + 2 && c10::multiply_integers(input.sizes().slice(1)) > 0,
              "Non-empty ", spatial_dims + 2, "D data tensor expected but got a tensor with sizes ",
              input.sizes());
}

using Mode = hal::UpsampleMode;

void launch_forward(Mode mode, const at::Tensor& out, const at::Tensor& input,
                    const hal::UpsampleScales& scales, bool align_corners) {
  launch(out, hal::Upsample{mode, describe(out), describe(input), scales, align_corners});
}

at::Tensor& upsample_into(Mode mode, const at::Tensor& input, c10::IntArrayRef output_size,
                          const hal::UpsampleScales& scales, bool align_corners, at::Tensor& out) {
  const int spatial_dims = static_cast<int>(output_size.size());
  const c10::Device device = common_device({&input, &out});
  c10::DeviceGuard guard(device);
  check_input(input, spatial_dims);
  const std::vector<int64_t> shape = upsampled_shape(input.sizes(), output_size, spatial_dims);
  const auto type = input.scalar_type();
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(type) || type == at::kByte,
                              "\"upsample\" not implemented for '", type, "'");
  TORCH_CHECK(out.scalar_type() == type, "expected out tensor of dtype ", type, " but got ",
              out.scalar_type());
  at::native::resize_output(out, shape);
  if (mode != Mode::Nearest && mode != Mode::NearestExact && type == at::kByte) {
    // PyTorch interpolates bytes in fixed point; in float, results may differ by one.
    at::Tensor wide =
        at::empty(shape, input.options().dtype(at::kFloat), input.suggest_memory_format());
    launch_forward(mode, wide, input.to(at::kFloat), scales, align_corners);
    out.copy_(wide.round_().clamp_(0, 255));
    return out;
  }
  launch_forward(mode, out, input, scales, align_corners);
  return out;
}

at::Tensor upsample_new(Mode mode, const at::Tensor& input, c10::IntArrayRef output_size,
                        const hal::UpsampleScales& scales, bool align_corners) {
  const int spatial_dims = static_cast<int>(output_size.size());
  check_input(input, spatial_dims);
  at::Tensor out = at::empty(upsampled_shape(input.sizes(), output_size, spatial_dims),
                             input.options(), input.suggest_memory_format());
  return upsample_into(mode, input, output_size, scales, align_corners, out);
}

at::Tensor& upsample_backward_into(Mode mode, const at::Tensor& grad_out,
                                   c10::IntArrayRef output_size, c10::IntArrayRef input_size,
                                   const hal::UpsampleScales& scales, bool align_corners,
                                   at::Tensor& grad_in) {
  const int spatial_dims = static_cast<int>(output_size.size());
  const c10::Device device = common_device({&grad_out, &grad_in});
  c10::DeviceGuard guard(device);
  const std::vector<int64_t> shape = upsampled_shape(input_size, output_size, spatial_dims);
  TORCH_CHECK(grad_out.sizes() == c10::IntArrayRef(shape),
              "Expected grad_output to have the same shape as output;",
              " output.size() = ", c10::IntArrayRef(shape),
              " but got grad_output.size() = ", grad_out.sizes());
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(grad_out.scalar_type()),
                              "\"upsample_backward\" not implemented for '", grad_out.scalar_type(),
                              "'");
  at::native::resize_output(grad_in, input_size);
  launch(grad_in,
         hal::UpsampleBackward{mode, describe(grad_in), describe(grad_out), scales, align_corners});
  return grad_in;
}

at::Tensor upsample_backward_new(Mode mode, const at::Tensor& grad_out,
                                 c10::IntArrayRef output_size, c10::IntArrayRef input_size,
                                 const hal::UpsampleScales& scales, bool align_corners) {
  at::Tensor grad_in = at::empty(input_size, grad_out.options(), grad_out.suggest_memory_format());
  return upsample_backward_into(mode, grad_out, output_size, input_size, scales, align_corners,
                                grad_in);
}

// ---- the ATen signatures ---------------------------------------------------------------------

template <Mode mode>
at::Tensor nearest1d(const at::Tensor& x, c10::IntArrayRef size, OptScale s) {
  return upsample_new(mode, x, size, scales_of({s}), false);
}
template <Mode mode>
at::Tensor nearest2d(const at::Tensor& x, c10::IntArrayRef size, OptScale h, OptScale w) {
  return upsample_new(mode, x, size, scales_of({h, w}), false);
}
template <Mode mode>
at::Tensor& nearest2d_out(const at::Tensor& x, c10::IntArrayRef size, OptScale h, OptScale w,
                          at::Tensor& out) {
  return upsample_into(mode, x, size, scales_of({h, w}), false, out);
}
at::Tensor nearest3d(const at::Tensor& x, c10::IntArrayRef size, OptScale d, OptScale h,
                     OptScale w) {
  return upsample_new(Mode::Nearest, x, size, scales_of({d, h, w}), false);
}
template <Mode mode>
at::Tensor nearest1d_backward(const at::Tensor& g, c10::IntArrayRef size,
                              c10::IntArrayRef input_size, OptScale s) {
  return upsample_backward_new(mode, g, size, input_size, scales_of({s}), false);
}
template <Mode mode>
at::Tensor nearest2d_backward(const at::Tensor& g, c10::IntArrayRef size,
                              c10::IntArrayRef input_size, OptScale h, OptScale w) {
  return upsample_backward_new(mode, g, size, input_size, scales_of({h, w}), false);
}
template <Mode mode>
at::Tensor& nearest2d_backward_out(const at::Tensor& g, c10::IntArrayRef size,
                                   c10::IntArrayRef input_size, OptScale h, OptScale w,
                                   at::Tensor& grad_in) {
  return upsample_backward_into(mode, g, size, input_size, scales_of({h, w}), false, grad_in);
}
at::Tensor nearest3d_backward(const at::Tensor& g, c10::IntArrayRef size,
                              c10::IntArrayRef input_size, OptScale d, OptScale h, OptScale w) {
  return upsample_backward_new(Mode::Nearest, g, size, input_size, scales_of({d, h, w}), false);
}

at::Tensor linear1d(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale s) {
  return upsample_new(Mode::Linear, x, size, scales_of({s}), align);
}
at::Tensor bilinear2d(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale h,
                      OptScale w) {
  return upsample_new(Mode::Linear, x, size, scales_of({h, w}), align);
}
at::Tensor& bilinear2d_out(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale h,
                           OptScale w, at::Tensor& out) {
  return upsample_into(Mode::Linear, x, size, scales_of({h, w}), align, out);
}
// uint8 bicubic is PyTorch's separable fixed-point algorithm, clamped between its passes (up to
// 29 levels from interpolating in float): it runs on the CPU fallback, in the ledger.
at::Tensor bicubic2d(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale h,
                     OptScale w) {
  if (x.scalar_type() == at::kByte) {
    return at::native::call_fallback_fn<&cpu_fallback, ATEN_OP(upsample_bicubic2d)>::call(
        x, size, align, h, w);
  }
  return upsample_new(Mode::Cubic, x, size, scales_of({h, w}), align);
}
at::Tensor& bicubic2d_out(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale h,
                          OptScale w, at::Tensor& out) {
  if (x.scalar_type() == at::kByte) {
    return at::native::call_fallback_fn<&cpu_fallback, ATEN_OP2(upsample_bicubic2d, out)>::call(
        x, size, align, h, w, out);
  }
  return upsample_into(Mode::Cubic, x, size, scales_of({h, w}), align, out);
}
at::Tensor bicubic2d_backward(const at::Tensor& g, c10::IntArrayRef size,
                              c10::IntArrayRef input_size, bool align, OptScale h, OptScale w) {
  return upsample_backward_new(Mode::Cubic, g, size, input_size, scales_of({h, w}), align);
}
at::Tensor& bicubic2d_backward_out(const at::Tensor& g, c10::IntArrayRef size,
                                   c10::IntArrayRef input_size, bool align, OptScale h, OptScale w,
                                   at::Tensor& grad_in) {
  return upsample_backward_into(Mode::Cubic, g, size, input_size, scales_of({h, w}), align,
                                grad_in);
}
at::Tensor trilinear3d(const at::Tensor& x, c10::IntArrayRef size, bool align, OptScale d,
                       OptScale h, OptScale w) {
  return upsample_new(Mode::Linear, x, size, scales_of({d, h, w}), align);
}
at::Tensor linear1d_backward(const at::Tensor& g, c10::IntArrayRef size,
                             c10::IntArrayRef input_size, bool align, OptScale s) {
  return upsample_backward_new(Mode::Linear, g, size, input_size, scales_of({s}), align);
}
at::Tensor bilinear2d_backward(const at::Tensor& g, c10::IntArrayRef size,
                               c10::IntArrayRef input_size, bool align, OptScale h, OptScale w) {
  return upsample_backward_new(Mode::Linear, g, size, input_size, scales_of({h, w}), align);
}
at::Tensor& bilinear2d_backward_out(const at::Tensor& g, c10::IntArrayRef size,
                                    c10::IntArrayRef input_size, bool align, OptScale h, OptScale w,
                                    at::Tensor& grad_in) {
  return upsample_backward_into(Mode::Linear, g, size, input_size, scales_of({h, w}), align,
                                grad_in);
}
at::Tensor trilinear3d_backward(const at::Tensor& g, c10::IntArrayRef size,
                                c10::IntArrayRef input_size, bool align, OptScale d, OptScale h,
                                OptScale w) {
  return upsample_backward_new(Mode::Linear, g, size, input_size, scales_of({d, h, w}), align);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("upsample_nearest1d", nearest1d<Mode::Nearest>);
  m.impl("upsample_nearest1d_backward", nearest1d_backward<Mode::Nearest>);
  m.impl("upsample_nearest2d", nearest2d<Mode::Nearest>);
  m.impl("upsample_nearest2d.out", nearest2d_out<Mode::Nearest>);
  m.impl("upsample_nearest2d_backward", nearest2d_backward<Mode::Nearest>);
  m.impl("upsample_nearest2d_backward.grad_input", nearest2d_backward_out<Mode::Nearest>);
  m.impl("_upsample_nearest_exact1d", nearest1d<Mode::NearestExact>);
  m.impl("_upsample_nearest_exact1d_backward", nearest1d_backward<Mode::NearestExact>);
  m.impl("_upsample_nearest_exact2d", nearest2d<Mode::NearestExact>);
  m.impl("_upsample_nearest_exact2d.out", nearest2d_out<Mode::NearestExact>);
  m.impl("_upsample_nearest_exact2d_backward", nearest2d_backward<Mode::NearestExact>);
  m.impl("_upsample_nearest_exact2d_backward.grad_input",
         nearest2d_backward_out<Mode::NearestExact>);
  m.impl("upsample_nearest3d", nearest3d);
  m.impl("upsample_nearest3d_backward", nearest3d_backward);
  m.impl("upsample_linear1d", linear1d);
  m.impl("upsample_linear1d_backward", linear1d_backward);
  m.impl("upsample_bilinear2d", bilinear2d);
  m.impl("upsample_bilinear2d.out", bilinear2d_out);
  m.impl("upsample_bilinear2d_backward", bilinear2d_backward);
  m.impl("upsample_bilinear2d_backward.grad_input", bilinear2d_backward_out);
  m.impl("upsample_bicubic2d", bicubic2d);
  m.impl("upsample_bicubic2d.out", bicubic2d_out);
  m.impl("upsample_bicubic2d_backward", bicubic2d_backward);
  m.impl("upsample_bicubic2d_backward.grad_input", bicubic2d_backward_out);
  m.impl("upsample_trilinear3d", trilinear3d);
  m.impl("upsample_trilinear3d_backward", trilinear3d_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
