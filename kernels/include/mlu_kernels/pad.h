// Reflection padding of the last 1 to 3 dims of [N, C, *spatial] tensors (any strides), with its
// gradient.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// pad_before[i] elements are added before spatial dim i (the innermost dims of out); the sizes
// after follow from out. |padding| < the input size of its dim.
void reflection_pad(const TensorDesc& out, const TensorDesc& in,
                    const std::array<std::int64_t, 3>& pad_before);
void reflection_pad_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                             const std::array<std::int64_t, 3>& pad_before);

}  // namespace mlu::kernels
