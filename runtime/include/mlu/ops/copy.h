// Strided copy with dtype conversion: dst[i] = cast(src[i]) for every index of dst's shape.
#pragma once

#include "mlu/ops/operand.h"

namespace mlu::hal {

// dst and src have the same shape; any strides (including 0 for broadcast sources). A host-value
// src fills dst.
struct Copy {
  static constexpr const char* name = "copy";
  TensorDesc dst;
  Operand src;
};

void enqueue(Queue* queue, const Copy& op);

}  // namespace mlu::hal
