// torchvision's deform_conv2d on mlu: device operations (mlu/ops/conv.h) sample the input at the
// offset taps (im2col) and spread gradients back; the matrix products are mlu matmuls, whole batch
// at once.
// 16-bit operands compute in float32.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

struct DeformShape {
  int64_t images, channels, out_channels, out_h, out_w, groups, offset_groups;
};

// Operands in the dtype the kernels compute in (float32 or float64), contiguous.
struct DeformOperands {
  at::Tensor input, weight, offset, mask, bias;
  hal::DeformConv conv;
  DeformShape shape;
};

DeformOperands prepare(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& offset,
                       const at::Tensor& mask, const at::Tensor& bias, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                       int64_t dilation_w, int64_t groups, int64_t offset_groups, bool use_mask) {
  TORCH_CHECK(input.dim() == 4 && weight.dim() == 4 && offset.dim() == 4,
              "deform_conv2d: expected 4-D input, weight and offset, got ", input.sizes(), ", ",
              weight.sizes(), " and ", offset.sizes());
  TORCH_CHECK(!use_mask || mask.dim() == 4, "deform_conv2d: expected a 4-D mask, got ",
              mask.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()),
              "deform_conv2d: expected a floating-point input, got ", input.scalar_type());
  const int64_t kh = weight.size(2), kw = weight.size(3), channels = input.size(1);
  TORCH_CHECK(kh > 0 && kw > 0, "deform_conv2d: empty kernel ", kh, "x", kw);
  TORCH_CHECK(stride_h > 0 && stride_w > 0, "deform_conv2d: stride must be positive, got ",
              stride_h, "x", stride_w);
  TORCH_CHECK(pad_h >= 0 && pad_w >= 0, "deform_conv2d: negative padding ", pad_h, "x", pad_w);
  TORCH_CHECK(dilation_h > 0 && dilation_w > 0, "deform_conv2d: dilation must be positive, got ",
              dilation_h, "x", dilation_w);
  TORCH_CHECK(groups > 0 && weight.size(1) * groups == channels && weight.size(0) % groups == 0,
              "deform_conv2d: a weight of shape ", weight.sizes(), " in ", groups,
              " groups does not fit an input of ", channels, " channels");
  TORCH_CHECK(offset_groups > 0 && channels % offset_groups == 0 &&
                  offset.size(1) == offset_groups * 2 * kh * kw,
              "deform_conv2d: offset.shape[1] is not valid: got ", offset.size(1), ", expected ",
              offset_groups * 2 * kh * kw, " (2 x ", offset_groups, " offset groups x ", kh, "x",
              kw, " taps) with the channels (", channels, ") divisible by the offset groups");
  TORCH_CHECK(!use_mask || mask.size(1) == offset_groups * kh * kw,
              "deform_conv2d: mask.shape[1] is not valid: got ", mask.size(1), ", expected ",
              offset_groups * kh * kw);
  const int64_t out_h = (input.size(2) + 2 * pad_h - (dilation_h * (kh - 1) + 1)) / stride_h + 1;
  const int64_t out_w = (input.size(3) + 2 * pad_w - (dilation_w * (kw - 1) + 1)) / stride_w + 1;
  TORCH_CHECK(out_h > 0 && out_w > 0, "deform_conv2d: calculated output size too small: ", out_h,
              "x", out_w);
  TORCH_CHECK(offset.size(0) == input.size(0) && offset.size(2) == out_h && offset.size(3) == out_w,
              "deform_conv2d: offset of shape ", offset.sizes(), " for an output of ",
              input.size(0), "x", out_h, "x", out_w);
  TORCH_CHECK(!use_mask ||
                  (mask.size(0) == input.size(0) && mask.size(2) == out_h && mask.size(3) == out_w),
              "deform_conv2d: mask of shape ", mask.sizes(), " for an output of ", input.size(0),
              "x", out_h, "x", out_w);
  TORCH_CHECK(bias.numel() == weight.size(0), "deform_conv2d: expected ", weight.size(0),
              " bias values, got ", bias.numel());
  const at::ScalarType type = input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto ready = [type](const at::Tensor& t) { return t.to(type).contiguous(); };
  DeformOperands d{ready(input), ready(weight), ready(offset),
                   use_mask ? ready(mask) : at::Tensor(), ready(bias)};
  d.conv = {describe(d.input),
            describe(d.offset),
            use_mask ? describe(d.mask) : hal::TensorDesc{},
            kh,
            kw,
            stride_h,
            stride_w,
            pad_h,
            pad_w,
            dilation_h,
            dilation_w,
            offset_groups,
            use_mask};
  d.shape = {input.size(0), channels, weight.size(0), out_h, out_w, groups, offset_groups};
  return d;
}

// The input sampled at every tap: [N, C * KH * KW, OH * OW].
at::Tensor sampled_columns(const DeformOperands& d) {
  const int64_t taps = d.conv.kernel_h * d.conv.kernel_w;
  at::Tensor columns = at::empty(
      {d.shape.images, d.shape.channels * taps, d.shape.out_h * d.shape.out_w}, d.input.options());
  launch(columns, hal::DeformIm2col{d.conv, describe(columns)});
  return columns;
}

// [G, OC / G, C / G * KH * KW]: what each weight group multiplies the columns by.
at::Tensor grouped_weight(const DeformOperands& d) {
  return d.weight.reshape({d.shape.groups, d.shape.out_channels / d.shape.groups, -1});
}

at::Tensor grouped_columns(const DeformOperands& d, const at::Tensor& columns) {
  return columns.view({d.shape.images, d.shape.groups, -1, columns.size(2)});
}

at::Tensor deform_conv2d(const at::Tensor& input, const at::Tensor& weight,
                         const at::Tensor& offset, const at::Tensor& mask, const at::Tensor& bias,
                         int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                         int64_t dilation_h, int64_t dilation_w, int64_t groups,
                         int64_t offset_groups, bool use_mask) {
  c10::DeviceGuard guard(common_device({&input, &weight, &offset, &mask, &bias}));
  const DeformOperands d = prepare(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                   pad_w, dilation_h, dilation_w, groups, offset_groups, use_mask);
  const DeformShape& s = d.shape;
  if (s.images == 0) {
    return at::zeros({0, s.out_channels, s.out_h, s.out_w}, input.options());
  }
  const at::Tensor columns = sampled_columns(d);
  const at::Tensor out = at::matmul(grouped_weight(d), grouped_columns(d, columns))
                             .view({s.images, s.out_channels, s.out_h, s.out_w});
  return out.add(d.bias.view({1, s.out_channels, 1, 1})).to(input.scalar_type());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward(
    const at::Tensor& grad, const at::Tensor& input, const at::Tensor& weight,
    const at::Tensor& offset, const at::Tensor& mask, const at::Tensor& bias, int64_t stride_h,
    int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
    int64_t groups, int64_t offset_groups, bool use_mask) {
  c10::DeviceGuard guard(common_device({&grad, &input, &weight, &offset, &mask, &bias}));
  const DeformOperands d = prepare(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                   pad_w, dilation_h, dilation_w, groups, offset_groups, use_mask);
  const DeformShape& s = d.shape;
  TORCH_CHECK(grad.dim() == 4 && grad.size(0) == s.images && grad.size(1) == s.out_channels &&
                  grad.size(2) == s.out_h && grad.size(3) == s.out_w,
              "deform_conv2d backward: expected a gradient of shape [", s.images, ", ",
              s.out_channels, ", ", s.out_h, ", ", s.out_w, "], got ", grad.sizes());
  if (s.images == 0) {
    return {at::zeros_like(input), at::zeros_like(weight), at::zeros_like(offset),
            at::zeros_like(mask), at::zeros_like(bias)};
  }
  const at::Tensor g = grad.to(d.input.scalar_type())
                           .contiguous()
                           .view({s.images, s.groups, s.out_channels / s.groups, -1});
  const at::Tensor grad_columns = at::matmul(grouped_weight(d).transpose(1, 2), g)
                                      .contiguous()
                                      .view({s.images, -1, s.out_h * s.out_w});
  at::Tensor grad_input = at::empty_like(d.input);
  at::Tensor grad_offset = at::empty_like(d.offset);
  at::Tensor grad_mask = use_mask ? at::empty_like(d.mask) : at::zeros_like(mask);
  launch(grad_input, hal::DeformCol2im{d.conv, describe(grad_columns), describe(grad_input)});
  launch(grad_offset, hal::DeformCol2imCoord{d.conv, describe(grad_columns), describe(grad_offset),
                                             use_mask ? describe(grad_mask) : hal::TensorDesc{}});
  const at::Tensor columns = sampled_columns(d);
  const at::Tensor grad_weight =
      at::matmul(g, grouped_columns(d, columns).transpose(2, 3)).sum(0).view(weight.sizes());
  const at::Tensor grad_bias = g.sum(at::IntArrayRef{0, 3}).reshape(bias.sizes());
  return {grad_input.to(input.scalar_type()), grad_weight.to(weight.scalar_type()),
          grad_offset.to(offset.scalar_type()),
          use_mask ? grad_mask.to(mask.scalar_type()) : grad_mask,
          grad_bias.to(bias.scalar_type())};
}

TORCH_LIBRARY_IMPL(torchvision, PrivateUse1, m) {
  m.impl("deform_conv2d", deform_conv2d);
  m.impl("_deform_conv2d_backward", deform_conv2d_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
