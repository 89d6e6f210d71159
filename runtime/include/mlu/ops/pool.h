// Pooling over 1 to 3 spatial dims of [N, C, *spatial] tensors (any strides): max (with the flat
// index of each maximum within its plane, NaN winning as in PyTorch), average, and their adaptive
// forms, with gradients. float16 and bfloat16 accumulate in float32.
#pragma once

#include <array>
#include <cstdint>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// out's spatial sizes are given by the out descriptor (ceil_mode is the caller's arithmetic).
struct PoolParams {
  std::array<std::int64_t, 3> kernel{1, 1, 1};
  std::array<std::int64_t, 3> stride{1, 1, 1};
  std::array<std::int64_t, 3> padding{0, 0, 0};
  std::array<std::int64_t, 3> dilation{1, 1, 1};  // max pooling only
  bool count_include_pad = true;                  // average pooling only
  std::int64_t divisor_override = 0;              // average pooling: divisor when not 0
};

// indices: int64, out's shape.
struct MaxPool {
  static constexpr const char* name = "max_pool";
  PoolParams params;
  TensorDesc out, indices, in;
};
struct AvgPool {
  static constexpr const char* name = "avg_pool";
  PoolParams params;
  TensorDesc out, in;
};
struct AvgPoolBackward {
  static constexpr const char* name = "avg_pool_backward";
  PoolParams params;
  TensorDesc grad_in, grad_out;
};

// Output cell o of a dim of size in pools [floor(o * in / out), ceil((o + 1) * in / out)).
struct AdaptiveMaxPool {
  static constexpr const char* name = "adaptive_max_pool";
  TensorDesc out, indices, in;
};
struct AdaptiveAvgPool {
  static constexpr const char* name = "adaptive_avg_pool";
  TensorDesc out, in;
};
struct AdaptiveAvgPoolBackward {
  static constexpr const char* name = "adaptive_avg_pool_backward";
  TensorDesc grad_in, grad_out;
};

// Gradient of any max pooling: grad_out summed into the grad_in elements that indices name.
struct MaxPoolBackward {
  static constexpr const char* name = "max_pool_backward";
  TensorDesc grad_in, grad_out, indices;
};

void enqueue(Queue* queue, const MaxPool& op);
void enqueue(Queue* queue, const AvgPool& op);
void enqueue(Queue* queue, const AvgPoolBackward& op);
void enqueue(Queue* queue, const AdaptiveMaxPool& op);
void enqueue(Queue* queue, const AdaptiveAvgPool& op);
void enqueue(Queue* queue, const AdaptiveAvgPoolBackward& op);
void enqueue(Queue* queue, const MaxPoolBackward& op);

}  // namespace mlu::hal
