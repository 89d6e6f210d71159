// Reflection and replication padding of the last 1 to 3 dims of [N, C, *spatial] tensors (any
// strides), with their gradients.
#pragma once

#include <array>
#include <cstdint>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

enum class PadMode {
  Reflect,    // the input mirrored at its edges (|padding| < the input size of its dim)
  Replicate,  // the edge elements repeated (negative padding crops)
};

// pad_before[i] elements are added before spatial dim i (the innermost dims of out); the sizes
// after follow from out.
struct Pad {
  static constexpr const char* name = "pad";
  PadMode mode;
  TensorDesc out, in;
  std::array<std::int64_t, 3> pad_before;
};
// grad_in accumulates every padded element's gradient into the input element it copies.
struct PadBackward {
  static constexpr const char* name = "pad_backward";
  PadMode mode;
  TensorDesc grad_in, grad_out;
  std::array<std::int64_t, 3> pad_before;
};

void enqueue(Queue* queue, const Pad& op);
void enqueue(Queue* queue, const PadBackward& op);

}  // namespace mlu::hal
