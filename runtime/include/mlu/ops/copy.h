// Strided copy with dtype conversion: dst[i] = cast(src[i]) for every index of dst's shape.
#pragma once

#include <vector>

#include "mlu/ops/operand.h"

namespace mlu::hal {

// dst and src have the same shape; any strides (including 0 for broadcast sources). A host-value
// src fills dst.
struct Copy {
  static constexpr const char* name = "copy";
  TensorDesc dst;
  Operand src;
};

// flip: a Copy whose source has negative strides in the flipped dimensions.
struct Flip : Copy {
  static constexpr const char* name = "flip";
};

// roll: the copies of its blocks, as one unit of device work.
struct Roll {
  static constexpr const char* name = "roll";
  std::vector<TensorDesc> dst, src;
};

// dst[i] = value for every index: value is a host value whose descriptor has dst's shape and
// zero strides.
struct Fill {
  static constexpr const char* name = "fill";
  TensorDesc dst;
  Operand value;
};

void enqueue(Queue* queue, const Copy& op);
void enqueue(Queue* queue, const Flip& op);
void enqueue(Queue* queue, const Roll& op);
void enqueue(Queue* queue, const Fill& op);

}  // namespace mlu::hal
