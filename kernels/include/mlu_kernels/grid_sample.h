// grid_sample kernels (mlu/ops/upsample.h), 4-D, bilinear and nearest.
#pragma once

#include "mlu/ops/upsample.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void grid_sample(const GridSample& g, const TensorDesc& output);
void grid_sample_backward(const GridSample& g, const TensorDesc& grad_output,
                          const TensorDesc& grad_input, const TensorDesc& grad_grid);

}  // namespace mlu::kernels
