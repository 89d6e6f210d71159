// Matrix products through the BLAS (OpenBLAS), as PyTorch CPU does.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out[i] = beta * out[i] + alpha * a[i] @ b[i] for 2-D operands (one product) or 3-D operands
// (a batch). Each matrix needs a unit stride in one of its two dims; out needs a unit column
// stride. With beta == 0 out is only written. float16 and bfloat16 compute in float32.
void gemm(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double alpha,
          double beta);

// Whether a matrix (the last two dims of desc) can be passed to gemm without a copy.
bool gemm_compatible(const TensorDesc& desc);

}  // namespace mlu::kernels
