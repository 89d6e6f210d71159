// Copy kernel: the implementation of mlu/ops/copy.h's operations.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void copy(const TensorDesc& dst, const TensorDesc& src);

}  // namespace mlu::kernels
