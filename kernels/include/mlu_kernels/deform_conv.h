// The sampling parts of torchvision's deformable convolution (deform_conv2d, DCNv1 and DCNv2 with
// a mask): each kernel tap reads the input at its grid position plus a learned offset, bilinearly.
// The matrix products around them are the caller's. Float32 and float64, contiguous operands.
#pragma once

#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct DeformConv {
  TensorDesc input;   // [N, C, H, W]
  TensorDesc offset;  // [N, 2 * G * KH * KW, OH, OW]: (dy, dx) per offset group and tap
  TensorDesc mask;    // [N, G * KH * KW, OH, OW]: each tap's weight; read only when use_mask
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0,
               dilation_h = 1, dilation_w = 1;
  std::int64_t offset_groups = 1;  // G: channel c uses group c / (C / G)
  bool use_mask = false;
};

// columns [N, C * KH * KW, OH * OW]: the (masked) sample of channel c at tap k in row c * KH * KW +
// k.
void deform_im2col(const DeformConv& conv, const TensorDesc& columns);

// grad_input [N, C, H, W], written whole: the columns' gradient spread back to the pixels.
void deform_col2im(const DeformConv& conv, const TensorDesc& grad_columns,
                   const TensorDesc& grad_input);

// grad_offset (offset's shape) and, when use_mask, grad_mask (mask's shape), written whole.
void deform_col2im_coord(const DeformConv& conv, const TensorDesc& grad_columns,
                         const TensorDesc& grad_offset, const TensorDesc& grad_mask);

}  // namespace mlu::kernels
