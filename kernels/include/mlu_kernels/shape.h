// Kernels of shape operators that move data (mlu/ops/shape.h): concatenation and triangles.
#pragma once

#include <cstdint>
#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void cat(const TensorDesc& out, const std::vector<TensorDesc>& inputs, int dim);
void triangle(const TensorDesc& out, const TensorDesc& in, std::int64_t diagonal, bool upper);
void triangle_indices(const TensorDesc& out, std::int64_t col, std::int64_t offset, bool upper);

}  // namespace mlu::kernels
