// Iteration over N same-shaped strided tensors: dims of size 1 are dropped and neighbours that
// are contiguous in every operand are merged, so the innermost loop is as long as possible.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

template <int N>
struct StridedLayout {
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<std::array<std::int64_t, kMaxDims>, N> strides{};  // in bytes
};

template <int N>
StridedLayout<N> coalesce(const std::array<const TensorDesc*, N>& operands) {
  const TensorDesc& shape = *operands[0];
  StridedLayout<N> l;
  for (int d = 0; d < shape.ndim; ++d) {
    const std::int64_t size = shape.sizes[d];
    if (size == 1) continue;
    bool mergeable = l.ndim > 0;
    for (int k = 0; k < N && mergeable; ++k) {
      const std::int64_t stride = operands[k]->strides[d] * element_size(operands[k]->dtype);
      mergeable = l.strides[k][l.ndim - 1] == stride * size;
    }
    if (mergeable) {
      l.sizes[l.ndim - 1] *= size;
      for (int k = 0; k < N; ++k) {
        l.strides[k][l.ndim - 1] = operands[k]->strides[d] * element_size(operands[k]->dtype);
      }
      continue;
    }
    l.sizes[l.ndim] = size;
    for (int k = 0; k < N; ++k) {
      l.strides[k][l.ndim] = operands[k]->strides[d] * element_size(operands[k]->dtype);
    }
    ++l.ndim;
  }
  return l;
}

// Calls inner(pointers, byte_strides, n) once per innermost row. Shapes must already agree.
template <int N, typename Inner>
void for_each_row(const std::array<const TensorDesc*, N>& operands, Inner&& inner) {
  const StridedLayout<N> l = coalesce<N>(operands);
  std::array<char*, N> ptr;
  for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
  std::array<std::int64_t, N> inner_strides{};
  if (l.ndim == 0) {
    inner(ptr, inner_strides, std::int64_t{1});
    return;
  }
  const int last = l.ndim - 1;
  for (int k = 0; k < N; ++k) inner_strides[k] = l.strides[k][last];
  std::array<std::int64_t, kMaxDims> index{};
  for (;;) {
    inner(ptr, inner_strides, l.sizes[last]);
    int d = last - 1;
    for (; d >= 0; --d) {  // advance the outer index like an odometer
      for (int k = 0; k < N; ++k) ptr[k] += l.strides[k][d];
      if (++index[d] < l.sizes[d]) break;
      for (int k = 0; k < N; ++k) ptr[k] -= l.strides[k][d] * l.sizes[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

void check_same_shape(const TensorDesc& a, const TensorDesc& b, const char* kernel);

}  // namespace mlu::kernels
