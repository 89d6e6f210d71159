// Reflection and replication padding kernels (mlu/ops/pad.h).
#pragma once

#include <array>
#include <cstdint>

#include "mlu/ops/pad.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void pad(PadMode mode, const TensorDesc& out, const TensorDesc& in,
         const std::array<std::int64_t, 3>& pad_before);
void pad_backward(PadMode mode, const TensorDesc& grad_in, const TensorDesc& grad_out,
                  const std::array<std::int64_t, 3>& pad_before);

}  // namespace mlu::kernels
