// Iteration over N same-shaped strided tensors: dims of size 1 are dropped and neighbours that
// are contiguous in every operand are merged, so the innermost loop is as long as possible. Where
// the order of iteration does not matter, dims are first put in memory order, so that a permuted
// dense layout (channels last, a transposed matrix) runs as one contiguous row.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "mlu_kernels/parallel.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

template <int N>
struct StridedLayout {
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<std::array<std::int64_t, kMaxDims>, N> strides{};  // in bytes
};

// Whether dim a should be iterated outside dim b: the first operand whose strides in them are
// nonzero and differ decides, the larger stride outside.
template <int N>
bool outer_in_memory(const std::array<const TensorDesc*, N>& operands, int a, int b) {
  for (int k = 0; k < N; ++k) {
    const std::int64_t sa = std::abs(operands[k]->strides[a]);
    const std::int64_t sb = std::abs(operands[k]->strides[b]);
    if (sa != 0 && sb != 0 && sa != sb) return sa > sb;
  }
  return false;
}

// The dims of more than one element, outermost first: in index order, or in memory order.
template <int N>
int iteration_order(const std::array<const TensorDesc*, N>& operands, bool memory_order,
                    std::array<int, kMaxDims>& order) {
  const TensorDesc& shape = *operands[0];
  int n = 0;
  for (int d = 0; d < shape.ndim; ++d) {
    if (shape.sizes[d] != 1) order[n++] = d;
  }
  if (memory_order) {  // a stable insertion sort: index order where strides do not decide
    for (int i = 1; i < n; ++i) {
      for (int j = i; j > 0 && outer_in_memory<N>(operands, order[j], order[j - 1]); --j) {
        std::swap(order[j], order[j - 1]);
      }
    }
  }
  return n;
}

template <int N>
StridedLayout<N> coalesce(const std::array<const TensorDesc*, N>& operands, bool memory_order) {
  std::array<int, kMaxDims> order;
  const int dims = iteration_order<N>(operands, memory_order, order);
  StridedLayout<N> l;
  for (int i = 0; i < dims; ++i) {
    const int d = order[i];
    const std::int64_t size = operands[0]->sizes[d];
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
  const StridedLayout<N> l = coalesce<N>(operands, /*memory_order=*/true);
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
  const StridedLayout<N> l = coalesce<N>(operands, /*memory_order=*/false);
  std::array<char*, N> ptr;
  for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
  run_rows<N>(l, ptr, 0, l.ndim == 0 ? 1 : l.sizes[0], inner);
}

void check_same_shape(const TensorDesc& a, const TensorDesc& b, const char* kernel);

}  // namespace mlu::kernels
