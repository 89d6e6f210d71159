// Operations along one dim that track positions: the implementation of mlu/ops/reduce.h's
// ArgReduce, Cumsum, Cumprod, Sort and Topk.
#pragma once

#include <cstdint>

#include "mlu/ops/reduce.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// values may be null.
void arg_reduce(bool is_max, const TensorDesc* values, const TensorDesc& indices,
                const TensorDesc& in, int dim);

void cumsum(const TensorDesc& out, const TensorDesc& in, int dim);
void cumprod(const TensorDesc& out, const TensorDesc& in, int dim);

void sort(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          bool descending);

void topk(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          std::int64_t k, bool largest);

}  // namespace mlu::kernels
