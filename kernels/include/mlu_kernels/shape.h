// Kernels of shape operators that move data: concatenation and triangles.
#pragma once

#include <cstdint>
#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out = inputs concatenated along dim: every input has out's shape except in dim, where their
// extents sum to out's. Inputs of other dtypes are converted.
void cat(const TensorDesc& out, const std::vector<TensorDesc>& inputs, int dim);

// tril (upper = false) or triu (upper = true) over the last two dims: out[..., i, j] = in[..., i,
// j] where j - i <= diagonal (tril) or j - i >= diagonal (triu), else 0. out may be in.
void triangle(const TensorDesc& out, const TensorDesc& in, std::int64_t diagonal, bool upper);

// The coordinates of tril (upper = false) or triu (upper = true) of a matrix with col columns
// and the given diagonal offset, row by row: out is [2, n] (Int32 or Int64), rows then columns,
// n the triangle's size (which the number of rows bounds).
void triangle_indices(const TensorDesc& out, std::int64_t col, std::int64_t offset, bool upper);

}  // namespace mlu::kernels
