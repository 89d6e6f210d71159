// Native reflection and replication padding (1-D to 3-D) and their gradients; constant padding
// needs no kernel of its own (its composite fills and copies).
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

struct Padding {
  std::array<int64_t, 3> before{0, 0, 0};  // per spatial dim, outermost first
  std::vector<int64_t> out_shape;
};

// padding lists (before, after) pairs from the last dim backwards, as F.pad does.
using hal::PadMode;

Padding padding_of(PadMode mode, const at::Tensor& input, c10::IntArrayRef padding,
                   int spatial_dims) {
  const int64_t dim = input.dim();
  bool valid = dim == spatial_dims + 1 || dim == spatial_dims + 2;
  for (int64_t i = dim == spatial_dims + 2 ? 1 : 0; valid && i < dim; ++i)
    valid = input.size(i) > 0;
  TORCH_CHECK(valid, spatial_dims + 1, "D or ", spatial_dims + 2,
              "D (batch mode) tensor expected for input, but got: ", input.sizes());
  TORCH_CHECK(static_cast<int>(padding.size()) == 2 * spatial_dims,
              "padding size is expected to be ", 2 * spatial_dims, ", but got: ", padding.size());
  Padding p;
  p.out_shape = input.sizes().vec();
  for (int i = 0; i < spatial_dims; ++i) {
    const int64_t d = dim - spatial_dims + i, size = input.size(d);
    const int64_t before = padding[2 * (spatial_dims - 1 - i)],
                  after = padding[2 * (spatial_dims - 1 - i) + 1];
    TORCH_CHECK(mode != PadMode::Reflect || (before < size && after < size),
                "Argument #4: Padding size should be less than the corresponding "
                "input dimension, but got: padding (",
                before, ", ", after, ") at dimension ", d, " of input ", input.sizes());
    p.before[i] = before;
    p.out_shape[d] = size + before + after;
    TORCH_CHECK(p.out_shape[d] >= 1, "input ", input.sizes(), " is too small for padding ",
                padding);
  }
  return p;
}

at::Tensor batched(const at::Tensor& t, int spatial_dims) {
  return t.dim() == spatial_dims + 1 ? t.unsqueeze(0) : t;
}

template <int spatial_dims, PadMode mode>
at::Tensor& pad_out(const at::Tensor& input, c10::IntArrayRef padding, at::Tensor& out) {
  const c10::Device device = common_device({&input, &out});
  c10::DeviceGuard guard(device);
  const Padding p = padding_of(mode, input, padding, spatial_dims);
  TORCH_CHECK(out.scalar_type() == input.scalar_type(), "expected out tensor of dtype ",
              input.scalar_type(), " but got ", out.scalar_type());
  at::native::resize_output(out, p.out_shape);
  launch(out, hal::Pad{mode, describe(batched(out, spatial_dims)),
                       describe(batched(input, spatial_dims)), p.before});
  return out;
}

template <int spatial_dims, PadMode mode>
at::Tensor pad(const at::Tensor& input, c10::IntArrayRef padding) {
  at::Tensor out = at::empty(padding_of(mode, input, padding, spatial_dims).out_shape,
                             input.options(), input.suggest_memory_format());
  return pad_out<spatial_dims, mode>(input, padding, out);
}

template <int spatial_dims, PadMode mode>
at::Tensor& pad_backward_out(const at::Tensor& grad_out, const at::Tensor& input,
                             c10::IntArrayRef padding, at::Tensor& grad_in) {
  const c10::Device device = common_device({&grad_out, &input, &grad_in});
  c10::DeviceGuard guard(device);
  const Padding p = padding_of(mode, input, padding, spatial_dims);
  TORCH_CHECK(grad_out.sizes() == c10::IntArrayRef(p.out_shape), "grad_output of size ",
              grad_out.sizes(), " does not match the padded size ", c10::IntArrayRef(p.out_shape));
  at::native::resize_output(grad_in, input.sizes());
  const at::Tensor g = grad_out.to(grad_in.scalar_type());
  launch(grad_in, hal::PadBackward{mode, describe(batched(grad_in, spatial_dims)),
                                   describe(batched(g, spatial_dims)), p.before});
  return grad_in;
}

template <int spatial_dims, PadMode mode>
at::Tensor pad_backward(const at::Tensor& grad_out, const at::Tensor& input,
                        c10::IntArrayRef padding) {
  at::Tensor grad_in = at::empty(input.sizes(), input.options(), input.suggest_memory_format());
  return pad_backward_out<spatial_dims, mode>(grad_out, input, padding, grad_in);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  // Complex tensors pad on the CPU fallback.
#define MLU_PAD(name, dims, mode)                                                                \
  m.impl(#name, RealOnly<ATEN_OP(name), pad<dims, mode>>::call);                                 \
  m.impl(#name ".out", RealOnly<ATEN_OP2(name, out), pad_out<dims, mode>>::call);                \
  m.impl(#name "_backward", RealOnly<ATEN_OP(name##_backward), pad_backward<dims, mode>>::call); \
  m.impl(#name "_backward.grad_input",                                                           \
         RealOnly<ATEN_OP2(name##_backward, grad_input), pad_backward_out<dims, mode>>::call)
  MLU_PAD(reflection_pad1d, 1, PadMode::Reflect);
  MLU_PAD(reflection_pad2d, 2, PadMode::Reflect);
  MLU_PAD(reflection_pad3d, 3, PadMode::Reflect);
  MLU_PAD(replication_pad1d, 1, PadMode::Replicate);
  MLU_PAD(replication_pad2d, 2, PadMode::Replicate);
  MLU_PAD(replication_pad3d, 3, PadMode::Replicate);
#undef MLU_PAD
}

}  // namespace
}  // namespace torch_mlu::ops
