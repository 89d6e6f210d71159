// Upsampling kernels (mlu/ops/upsample.h): nearest (and nearest-exact) and linear interpolation
// per dim (linear, bilinear, trilinear), and bicubic (2-D), with gradients.
#pragma once

#include "mlu/ops/upsample.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void upsample_nearest(const TensorDesc& out, const TensorDesc& in, const UpsampleScales& scales,
                      bool exact);
void upsample_nearest_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                               const UpsampleScales& scales, bool exact);

void upsample_linear(const TensorDesc& out, const TensorDesc& in, const UpsampleScales& scales,
                     bool align_corners);
void upsample_linear_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                              const UpsampleScales& scales, bool align_corners);

// [N, C, H, W] only; scales are (H, W).
void upsample_bicubic(const TensorDesc& out, const TensorDesc& in, const UpsampleScales& scales,
                      bool align_corners);
void upsample_bicubic_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                               const UpsampleScales& scales, bool align_corners);

}  // namespace mlu::kernels
