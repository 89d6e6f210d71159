// Resampling of [N, C, *spatial] tensors (1 to 3 spatial dims, any strides) to out's spatial
// sizes, with PyTorch's CPU index arithmetic: nearest (and nearest-exact) and linear
// interpolation per dim (linear, bilinear, trilinear), and bicubic (2-D), with gradients.
#pragma once

#include <array>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// Per spatial dim: the user's scale factor, or 0 when the ratio of sizes applies.
using UpsampleScales = std::array<double, 3>;

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
