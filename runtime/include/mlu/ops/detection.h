// torchvision's detection operators: non-maximum suppression and the region-of-interest poolings
// (RoIAlign, RoIPool and their position-sensitive forms), forward and backward, sampling as
// torchvision's CPU kernels do. Float32 and float64, every operand contiguous.
#pragma once

#include <cstdint>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// boxes [K, 4] (x1, y1, x2, y2); order [K] int64, the box indices by descending score. Writes the
// kept indices, in that order, to the front of keep ([K] int64) and their number to kept ([1]
// int64). A box is dropped when its IoU with a kept box of higher score exceeds the threshold.
struct Nms {
  static constexpr const char* name = "nms";
  TensorDesc boxes, order;
  double iou_threshold;
  TensorDesc keep, kept;
};

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

// The torchvision operator of each kind: the poolings' launch names.
constexpr const char* roi_operator(RoiKind kind) {
  switch (kind) {
    case RoiKind::Align: return "roi_align";
    case RoiKind::MaxPool: return "roi_pool";
    case RoiKind::PsAlign: return "ps_roi_align";
    case RoiKind::PsAvgPool: return "ps_roi_pool";
  }
  return "roi";
}
constexpr const char* roi_operator_backward(RoiKind kind) {
  switch (kind) {
    case RoiKind::Align: return "roi_align backward";
    case RoiKind::MaxPool: return "roi_pool backward";
    case RoiKind::PsAlign: return "ps_roi_align backward";
    case RoiKind::PsAvgPool: return "ps_roi_pool backward";
  }
  return "roi backward";
}

// One operation per kind, named after its operator; pooling.kind is kind.
// features [N, C, H, W]; output [K, C', PH, PW], C' = C, or C / (PH * PW) for the
// position-sensitive kinds; index [K, C', PH, PW] int32: MaxPool's argmax (the pixel's offset in
// its plane, -1 for an empty bin), the position-sensitive kinds' input channel; unused by Align.
template <RoiKind kind>
struct RoiPoolForward {
  static constexpr const char* name = roi_operator(kind);
  RoiPooling pooling;
  TensorDesc features, output, index;
};
// grad_features [N, C, H, W] is written whole (zero where no bin reads).
template <RoiKind kind>
struct RoiPoolBackward {
  static constexpr const char* name = roi_operator_backward(kind);
  RoiPooling pooling;
  TensorDesc grad_output, index, grad_features;
};

void enqueue(Queue* queue, const Nms& op);
// Defined for the four kinds.
template <RoiKind kind>
void enqueue(Queue* queue, const RoiPoolForward<kind>& op);
template <RoiKind kind>
void enqueue(Queue* queue, const RoiPoolBackward<kind>& op);

}  // namespace mlu::hal
