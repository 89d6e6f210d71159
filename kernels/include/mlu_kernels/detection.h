// Detection kernels (mlu/ops/detection.h): non-maximum suppression and the region-of-interest
// poolings.
#pragma once

#include "mlu/ops/detection.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void nms(const TensorDesc& boxes, const TensorDesc& order, double iou_threshold,
         const TensorDesc& keep, const TensorDesc& kept);

void roi_pool_forward(const RoiPooling& pooling, const TensorDesc& features,
                      const TensorDesc& output, const TensorDesc& index);
void roi_pool_backward(const RoiPooling& pooling, const TensorDesc& grad_output,
                       const TensorDesc& index, const TensorDesc& grad_features);

}  // namespace mlu::kernels
