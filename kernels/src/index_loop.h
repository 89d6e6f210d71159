// Iteration over a shape shared by a run-time number of strided operands (the data operands of
// an indexing kernel plus its index tensors): dims of size 1 are dropped and neighbours that are
// contiguous in every operand are merged, as strided_loop.h does for a fixed number.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

constexpr int kMaxOperands = kMaxDims + 2;

using OperandPointers = std::array<char*, kMaxOperands>;
using OperandStrides = std::array<std::int64_t, kMaxOperands>;  // bytes

struct OperandLayout {
  int count = 0;
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<OperandStrides, kMaxDims> strides{};  // [dim][operand]
  OperandPointers data{};
};

// All operands have the shape of operands[0].
inline OperandLayout coalesce_operands(const TensorDesc* const* operands, int count) {
  OperandLayout l;
  l.count = count;
  for (int k = 0; k < count; ++k) l.data[k] = static_cast<char*>(operands[k]->data);
  const TensorDesc& shape = *operands[0];
  for (int d = 0; d < shape.ndim; ++d) {
    const std::int64_t size = shape.sizes[d];
    if (size == 1) continue;
    OperandStrides strides{};
    for (int k = 0; k < count; ++k) {
      strides[k] =
          operands[k]->strides[d] * static_cast<std::int64_t>(element_size(operands[k]->dtype));
    }
    bool mergeable = l.ndim > 0;
    for (int k = 0; k < count && mergeable; ++k) {
      mergeable = l.strides[l.ndim - 1][k] == strides[k] * size;
    }
    if (mergeable) {
      l.sizes[l.ndim - 1] *= size;
      l.strides[l.ndim - 1] = strides;
    } else {
      l.sizes[l.ndim] = size;
      l.strides[l.ndim] = strides;
      ++l.ndim;
    }
  }
  return l;
}

// Calls row(pointers, strides, n) for every innermost row whose outermost index lies in
// [first, last) (the whole layout has one row of one element when it has no dims).
template <typename Row>
void for_each_operand_row(const OperandLayout& l, std::int64_t first, std::int64_t last,
                          Row&& row) {
  OperandPointers ptr = l.data;
  if (l.ndim == 0) {
    row(ptr, OperandStrides{}, std::int64_t{1});
    return;
  }
  const int innermost = l.ndim - 1;
  for (int k = 0; k < l.count; ++k) ptr[k] += first * l.strides[0][k];
  if (l.ndim == 1) {
    row(ptr, l.strides[0], last - first);
    return;
  }
  std::array<std::int64_t, kMaxDims> index{};
  index[0] = first;
  for (;;) {
    row(ptr, l.strides[innermost], l.sizes[innermost]);
    int d = innermost - 1;
    for (; d >= 0; --d) {  // advance the outer index like an odometer
      for (int k = 0; k < l.count; ++k) ptr[k] += l.strides[d][k];
      if (++index[d] < (d == 0 ? last : l.sizes[d])) break;
      if (d == 0) return;
      for (int k = 0; k < l.count; ++k) ptr[k] -= l.strides[d][k] * l.sizes[d];
      index[d] = 0;
    }
  }
}

}  // namespace mlu::kernels
