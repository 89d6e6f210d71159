// Native im2col and col2im (nn.Unfold, nn.Fold and their gradients, which are each other),
// checked as ATen checks them and computed by the device's patch operations (mlu/ops/conv.h).
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/native/Resize.h>
#include <ATen/native/im2col_shape_check.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

hal::PatchGeometry geometry_of(c10::IntArrayRef kernel_size, c10::IntArrayRef dilation,
                               c10::IntArrayRef padding, c10::IntArrayRef stride) {
  TORCH_CHECK(kernel_size.size() == 2, "It is expected kernel_size equals to 2, but got size ",
              kernel_size.size());
  TORCH_CHECK(dilation.size() == 2, "It is expected dilation equals to 2, but got size ",
              dilation.size());
  TORCH_CHECK(padding.size() == 2, "It is expected padding equals to 2, but got size ",
              padding.size());
  TORCH_CHECK(stride.size() == 2, "It is expected stride equals to 2, but got size ",
              stride.size());
  hal::PatchGeometry g;
  for (int d = 0; d < 2; ++d) {
    g.kernel[d] = kernel_size[d];
    g.dilation[d] = dilation[d];
    g.padding[d] = padding[d];
    g.stride[d] = stride[d];
  }
  return g;
}

void check_dtype(const at::Tensor& t, const char* op) {
  const at::ScalarType dtype = t.scalar_type();
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(dtype) || dtype == at::kBool, "\"", op,
                              "\" not implemented for '", c10::toString(dtype), "'");
}

int64_t blocks(const hal::PatchGeometry& g, int64_t size, int d) {
  return (size + 2 * g.padding[d] - (g.dilation[d] * (g.kernel[d] - 1) + 1)) / g.stride[d] + 1;
}

at::Tensor& im2col_out(const at::Tensor& self, c10::IntArrayRef kernel_size,
                       c10::IntArrayRef dilation, c10::IntArrayRef padding, c10::IntArrayRef stride,
                       at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  const hal::PatchGeometry g = geometry_of(kernel_size, dilation, padding, stride);
  at::native::im2col_shape_check(self, at::Tensor(), g.kernel[0], g.kernel[1], g.dilation[0],
                                 g.dilation[1], g.padding[0], g.padding[1], g.stride[0],
                                 g.stride[1]);
  check_dtype(self, "im2col_out_mlu");
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "expected out tensor of dtype ",
              self.scalar_type(), " but got ", out.scalar_type());
  const bool batched = self.dim() == 4;
  const at::Tensor image = batched ? self : self.unsqueeze(0);
  const int64_t rows = image.size(1) * g.kernel[0] * g.kernel[1];
  const int64_t positions = blocks(g, image.size(2), 0) * blocks(g, image.size(3), 1);
  at::native::resize_output(out, batched ? at::IntArrayRef{image.size(0), rows, positions}
                                         : at::IntArrayRef{rows, positions});
  const at::Tensor columns = batched ? out : out.unsqueeze(0);
  launch(out, hal::Im2col{g, describe(columns), describe(image)});
  return out;
}

at::Tensor im2col(const at::Tensor& self, c10::IntArrayRef kernel_size, c10::IntArrayRef dilation,
                  c10::IntArrayRef padding, c10::IntArrayRef stride) {
  at::Tensor out = at::empty({0}, self.options());
  return im2col_out(self, kernel_size, dilation, padding, stride, out);
}

at::Tensor& col2im_out(const at::Tensor& self, c10::IntArrayRef output_size,
                       c10::IntArrayRef kernel_size, c10::IntArrayRef dilation,
                       c10::IntArrayRef padding, c10::IntArrayRef stride, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(output_size.size() == 2, "It is expected output_size equals to 2, but got size ",
              output_size.size());
  const hal::PatchGeometry g = geometry_of(kernel_size, dilation, padding, stride);
  at::native::col2im_shape_check(self, at::Tensor(), output_size[0], output_size[1], g.kernel[0],
                                 g.kernel[1], g.dilation[0], g.dilation[1], g.padding[0],
                                 g.padding[1], g.stride[0], g.stride[1]);
  check_dtype(self, "col2im_out_mlu");
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "expected out tensor of dtype ",
              self.scalar_type(), " but got ", out.scalar_type());
  const bool batched = self.dim() == 3;
  const at::Tensor columns = batched ? self : self.unsqueeze(0);
  const int64_t channels = columns.size(1) / (g.kernel[0] * g.kernel[1]);
  at::native::resize_output(
      out, batched ? at::IntArrayRef{columns.size(0), channels, output_size[0], output_size[1]}
                   : at::IntArrayRef{channels, output_size[0], output_size[1]});
  const at::Tensor image = batched ? out : out.unsqueeze(0);
  launch(out, hal::Col2im{g, describe(image), describe(columns)});
  return out;
}

at::Tensor col2im(const at::Tensor& self, c10::IntArrayRef output_size,
                  c10::IntArrayRef kernel_size, c10::IntArrayRef dilation, c10::IntArrayRef padding,
                  c10::IntArrayRef stride) {
  at::Tensor out = at::empty({0}, self.options());
  return col2im_out(self, output_size, kernel_size, dilation, padding, stride, out);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  // Complex tensors take the CPU fallback.
  m.impl("im2col", RealOnly<ATEN_OP(im2col), im2col>::call);
  m.impl("im2col.out", RealOnly<ATEN_OP2(im2col, out), im2col_out>::call);
  m.impl("col2im", RealOnly<ATEN_OP(col2im), col2im>::call);
  m.impl("col2im.out", RealOnly<ATEN_OP2(col2im, out), col2im_out>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
