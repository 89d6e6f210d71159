// Operations along one dim that track positions: arg-reductions, cumulative sums, sorting (the
// semantics are those of mlu/ops/reduce.h).
#pragma once

#include <cstdint>

#include "mlu/ops/reduce.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The first position of the maximum (or minimum) along dim, NaN counting as the maximum (and
// the minimum), into int64 indices, and its value into values when given. Outputs have in's
// ndim with size 1 in dim; values has in's dtype. dim must not be empty.
void arg_reduce(bool is_max, const TensorDesc* values, const TensorDesc& indices,
                const TensorDesc& in, int dim);

// out = cumulative sum of in along dim; out and in share shape and dtype and may alias.
// Floating types accumulate in float64 and integers in int64, as PyTorch CPU does.
void cumsum(const TensorDesc& out, const TensorDesc& in, int dim);
// The same for the cumulative product.
void cumprod(const TensorDesc& out, const TensorDesc& in, int dim);

// Stable sort along dim, NaN after every number when ascending (before when descending).
// values has in's shape and dtype, indices is int64 of that shape.
void sort(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          bool descending);

// The k largest (or smallest) elements along dim, in sorted order (ties by position), NaN
// counting as the largest. values and indices have in's shape with size k in dim.
void topk(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          std::int64_t k, bool largest);

}  // namespace mlu::kernels
