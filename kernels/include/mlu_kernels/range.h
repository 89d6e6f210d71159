// Factories whose values follow from the position: arange, linspace and logspace. out is 1-D, any
// strides.
#pragma once

#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out[i] = start + i * step, computed in double and converted (floating dtypes).
void arange(const TensorDesc& out, double start, double step);
// out[i] = start + i * step in int64 arithmetic, converted (integral dtypes).
void arange(const TensorDesc& out, std::int64_t start, std::int64_t step);

// n = out's length >= 2 points from start to end: start + i * step for the first half and
// end - (n - 1 - i) * step for the second, step = (end - start) / (n - 1), as PyTorch computes
// them (in the dtype, float32 for the 16-bit floats, double for integral dtypes).
void linspace(const TensorDesc& out, double start, double end);

// out[i] = base ** e_i with e_i the linspace from start to end, exponents in double, as
// PyTorch's CPU kernel computes them.
void logspace(const TensorDesc& out, double start, double end, double base);

}  // namespace mlu::kernels
