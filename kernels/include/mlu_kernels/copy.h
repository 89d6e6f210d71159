// Strided copy with dtype conversion: dst[i] = cast(src[i]) for every index of dst's shape.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// dst and src have the same shape; any strides (including 0 for broadcast sources).
void copy(const TensorDesc& dst, const TensorDesc& src);

}  // namespace mlu::kernels
