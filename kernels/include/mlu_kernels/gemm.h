// Matrix products through the BLAS (OpenBLAS), as PyTorch CPU does (mlu/ops/gemm.h).
#pragma once

#include "mlu/ops/gemm.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void gemm(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double alpha,
          double beta, const GemmEpilogue& epilogue = {});

// Whether a matrix (the last two dims of desc) can be passed to gemm without a copy.
bool gemm_compatible(const TensorDesc& desc);

}  // namespace mlu::kernels
