// Reflection and replication padding of the last 1 to 3 dims of [N, C, *spatial] tensors (any
// strides), with their gradients.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

enum class PadMode {
  Reflect,    // the input mirrored at its edges (|padding| < the input size of its dim)
  Replicate,  // the edge elements repeated (negative padding crops)
};

// pad_before[i] elements are added before spatial dim i (the innermost dims of out); the sizes
// after follow from out.
void pad(PadMode mode, const TensorDesc& out, const TensorDesc& in,
         const std::array<std::int64_t, 3>& pad_before);
// grad_in accumulates every padded element's gradient into the input element it copies.
void pad_backward(PadMode mode, const TensorDesc& grad_in, const TensorDesc& grad_out,
                  const std::array<std::int64_t, 3>& pad_before);

}  // namespace mlu::kernels
