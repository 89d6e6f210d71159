// Indexing kernels: every gather-like operator (index_select, gather, advanced indexing) and
// every scatter-like one (scatter, scatter_add, index_add, index_put) is one of the two below,
// after the caller has described the data tensor with the iteration shape.
#pragma once

#include <vector>

#include "mlu/ops/index.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out[i] = src[i + sum_k index_k[i] * stride_k]. src is described with out's shape, its indexed
// dimensions having stride 0. An out-of-range index throws KernelError naming it.
void index_gather(const TensorDesc& out, const TensorDesc& src,
                  const std::vector<IndexOperand>& indices, NegativeIndices negative);

// dst[i + sum_k index_k[i] * stride_k] (reduce)= values[i]: dst is described with the iteration
// shape (indexed dimensions of stride 0) and values has it too. Duplicate indices combine in
// iteration order, so results are deterministic. Add computes dst + alpha * value.
void index_scatter(const TensorDesc& dst, const TensorDesc& values,
                   const std::vector<IndexOperand>& indices, NegativeIndices negative,
                   ScatterReduce reduce, double alpha = 1);

// The elements of dst where mask (bool, dst's shape) is true, in row-major order, take the
// consecutive elements of source (1-D, dst's dtype); too short a source throws.
void masked_scatter(const TensorDesc& dst, const TensorDesc& mask, const TensorDesc& source);

// The row-major coordinates of in's nonzero elements (NaN counts as nonzero), one row each, in
// row-major order: out is a contiguous int64 [count, in.ndim] matrix with exactly one row per
// nonzero element (the caller counted them).
void nonzero(const TensorDesc& out, const TensorDesc& in);

}  // namespace mlu::kernels
