// Pooling over 1 to 3 spatial dims of [N, C, *spatial] tensors (any strides): max (with the flat
// index of each maximum within its plane, NaN winning as in PyTorch), average, and their adaptive
// forms, with gradients. float16 and bfloat16 accumulate in float32.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

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
void max_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& indices,
              const TensorDesc& in);
void avg_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& in);
void avg_pool_backward(const PoolParams& p, const TensorDesc& grad_in, const TensorDesc& grad_out);

// Output cell o of a dim of size in pools [floor(o * in / out), ceil((o + 1) * in / out)).
void adaptive_max_pool(const TensorDesc& out, const TensorDesc& indices, const TensorDesc& in);
void adaptive_avg_pool(const TensorDesc& out, const TensorDesc& in);
void adaptive_avg_pool_backward(const TensorDesc& grad_in, const TensorDesc& grad_out);

// Gradient of any max pooling: grad_out summed into the grad_in elements that indices name.
void max_pool_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                       const TensorDesc& indices);

}  // namespace mlu::kernels
