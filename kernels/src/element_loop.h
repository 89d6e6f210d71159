// Iteration that knows each element's row-major position, for kernels whose values depend on it
// (random numbers drawn from a counter, ranges): the results do not depend on the strides.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "mlu_kernels/parallel.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// Calls run(first, pointers, steps, n) for runs of n elements of N same-shaped operands: the
// elements with row-major indices first..first+n-1, at pointers[k] + j * steps[k] (bytes) in
// operand k. Runs are handed out in parallel chunks, so run must only touch its own elements.
template <int N, typename Run>
void for_each_run(const std::array<const TensorDesc*, N>& operands, Run&& run) {
  const TensorDesc& shape = *operands[0];
  const std::int64_t numel = shape.numel();
  if (numel == 0) return;
  auto stride = [&](int k, int d) {
    return operands[k]->strides[d] * static_cast<std::int64_t>(element_size(operands[k]->dtype));
  };
  parallel_for(numel, kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    std::array<char*, N> ptr;
    for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
    std::array<std::int64_t, N> step{};
    if (shape.ndim == 0) {
      run(std::int64_t{0}, ptr, step, std::int64_t{1});
      return;
    }
    std::array<std::int64_t, kMaxDims> index{};
    std::int64_t rest = begin;
    for (int d = shape.ndim - 1; d >= 0; --d) {
      index[d] = rest % shape.sizes[d];
      rest /= shape.sizes[d];
      for (int k = 0; k < N; ++k) ptr[k] += index[d] * stride(k, d);
    }
    const int last = shape.ndim - 1;
    for (int k = 0; k < N; ++k) step[k] = stride(k, last);
    for (std::int64_t i = begin;;) {
      const std::int64_t n = std::min(shape.sizes[last] - index[last], end - i);
      run(i, ptr, step, n);
      i += n;
      if (i >= end) return;
      for (int k = 0; k < N; ++k) ptr[k] += n * step[k];
      index[last] += n;
      for (int d = last; d > 0 && index[d] == shape.sizes[d]; --d) {  // carry like an odometer
        for (int k = 0; k < N; ++k) ptr[k] += stride(k, d - 1) - index[d] * stride(k, d);
        index[d] = 0;
        ++index[d - 1];
      }
    }
  });
}

}  // namespace mlu::kernels
