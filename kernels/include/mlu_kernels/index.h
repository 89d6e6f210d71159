// Indexing kernels: the implementation of mlu/ops/index.h's operations.
#pragma once

#include <vector>

#include "mlu/ops/index.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// index_gather and index_scatter throw KernelError naming an out-of-range index.
void index_gather(const TensorDesc& out, const TensorDesc& src,
                  const std::vector<IndexOperand>& indices, NegativeIndices negative);

void index_scatter(const TensorDesc& dst, const TensorDesc& values,
                   const std::vector<IndexOperand>& indices, NegativeIndices negative,
                   ScatterReduce reduce, double alpha = 1);

// Too short a source throws KernelError.
void masked_scatter(const TensorDesc& dst, const TensorDesc& mask, const TensorDesc& source);

void nonzero(const TensorDesc& out, const TensorDesc& in);

}  // namespace mlu::kernels
