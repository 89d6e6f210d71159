// The sampling parts of torchvision's deformable convolution (mlu/ops/conv.h).
#pragma once

#include "mlu/ops/conv.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void deform_im2col(const DeformConv& conv, const TensorDesc& columns);

void deform_col2im(const DeformConv& conv, const TensorDesc& grad_columns,
                   const TensorDesc& grad_input);

void deform_col2im_coord(const DeformConv& conv, const TensorDesc& grad_columns,
                         const TensorDesc& grad_offset, const TensorDesc& grad_mask);

}  // namespace mlu::kernels
