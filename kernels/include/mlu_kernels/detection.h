// torchvision's detection operators: non-maximum suppression and the region-of-interest poolings
// (RoIAlign, RoIPool and their position-sensitive forms), forward and backward, sampling as
// torchvision's CPU kernels do. Float32 and float64, every operand contiguous.
#pragma once

#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// boxes [K, 4] (x1, y1, x2, y2); order [K] int64, the box indices by descending score. Writes the
// kept indices, in that order, to the front of keep ([K] int64) and their number to kept ([1]
// int64). A box is dropped when its IoU with a kept box of higher score exceeds the threshold.
void nms(const TensorDesc& boxes, const TensorDesc& order, double iou_threshold,
         const TensorDesc& keep, const TensorDesc& kept);

enum class RoiKind {
  Align,      // bilinear samples averaged per bin
  MaxPool,    // the maximum of the whole pixels in a bin
  PsAlign,    // position-sensitive: bin (i, j) of output channel c reads channel (c, i, j)
  PsAvgPool,  // position-sensitive average of the whole pixels in a bin
};

struct RoiPooling {
  RoiKind kind = RoiKind::Align;
  TensorDesc rois;  // [K, 5]: batch index, x1, y1, x2, y2, in the features' dtype
  double spatial_scale = 1.0;
  std::int64_t pooled_height = 1, pooled_width = 1;
  std::int64_t sampling_ratio = -1;  // Align kinds: samples per bin side; adaptive when <= 0
  bool aligned = false;              // Align: pixel centres at half-integers
};

// features [N, C, H, W]; output [K, C', PH, PW], C' = C, or C / (PH * PW) for the
// position-sensitive kinds; index [K, C', PH, PW] int32: MaxPool's argmax (the pixel's offset in
// its plane, -1 for an empty bin), the position-sensitive kinds' input channel; unused by Align.
void roi_pool_forward(const RoiPooling& pooling, const TensorDesc& features,
                      const TensorDesc& output, const TensorDesc& index);

// grad_features [N, C, H, W] is written whole (zero where no bin reads).
void roi_pool_backward(const RoiPooling& pooling, const TensorDesc& grad_output,
                       const TensorDesc& index, const TensorDesc& grad_features);

}  // namespace mlu::kernels
