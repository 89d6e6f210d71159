// Iteration over N same-shaped strided tensors: dims of size 1 are dropped and neighbours that
// are contiguous in every operand are merged, so the innermost loop is as long as possible.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "mlu_kernels/parallel.h"
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

// Rows [first, last) of the outermost dim of a layout (the whole layout when it has one dim).
template <int N, typename Inner>
void run_rows(const StridedLayout<N>& l, std::array<char*, N> ptr, std::int64_t first,
              std::int64_t last, Inner& inner) {
  std::array<std::int64_t, N> inner_strides{};
  if (l.ndim == 0) {
    inner(ptr, inner_strides, std::int64_t{1});
    return;
  }
  const int innermost = l.ndim - 1;
  for (int k = 0; k < N; ++k) inner_strides[k] = l.strides[k][innermost];
  if (l.ndim == 1) {
    for (int k = 0; k < N; ++k) ptr[k] += first * l.strides[k][0];
    inner(ptr, inner_strides, last - first);
    return;
  }
  for (int k = 0; k < N; ++k) ptr[k] += first * l.strides[k][0];
  std::array<std::int64_t, kMaxDims> index{};
  index[0] = first;
  for (;;) {
    inner(ptr, inner_strides, l.sizes[innermost]);
    int d = innermost - 1;
    for (; d >= 0; --d) {  // advance the outer index like an odometer
      for (int k = 0; k < N; ++k) ptr[k] += l.strides[k][d];
      if (++index[d] < (d == 0 ? last : l.sizes[d])) break;
      if (d == 0) return;
      for (int k = 0; k < N; ++k) ptr[k] -= l.strides[k][d] * l.sizes[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Calls inner(pointers, byte_strides, n) once per innermost row (or part of one), in parallel
// over the outermost dim when the work is large. Shapes must already agree, and inner must be
// safe to call concurrently on disjoint rows.
template <int N, typename Inner>
void for_each_row(const std::array<const TensorDesc*, N>& operands, Inner&& inner) {
  const StridedLayout<N> l = coalesce<N>(operands);
  std::array<char*, N> ptr;
  for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
  const std::int64_t total = operands[0]->numel();
  if (l.ndim == 0 || total < 2 * kParallelGrain) {
    run_rows<N>(l, ptr, 0, l.ndim == 0 ? 1 : l.sizes[0], inner);
    return;
  }
  const std::int64_t per_outer = total / l.sizes[0];
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / per_outer);
  parallel_for(l.sizes[0], grain, [&](std::int64_t first, std::int64_t last) {
    run_rows<N>(l, ptr, first, last, inner);
  });
}

// for_each_row on the calling thread, in row order: for callers that accumulate across rows.
template <int N, typename Inner>
void for_each_row_in_order(const std::array<const TensorDesc*, N>& operands, Inner&& inner) {
  const StridedLayout<N> l = coalesce<N>(operands);
  std::array<char*, N> ptr;
  for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
  run_rows<N>(l, ptr, 0, l.ndim == 0 ? 1 : l.sizes[0], inner);
}

void check_same_shape(const TensorDesc& a, const TensorDesc& b, const char* kernel);

}  // namespace mlu::kernels
