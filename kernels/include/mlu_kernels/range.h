// Factories whose values follow from the position (mlu/ops/shape.h): arange, linspace and
// logspace.
#pragma once

#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void arange(const TensorDesc& out, double start, double step);
void arange(const TensorDesc& out, std::int64_t start, std::int64_t step);
void linspace(const TensorDesc& out, double start, double end);
void logspace(const TensorDesc& out, double start, double end, double base);

}  // namespace mlu::kernels
