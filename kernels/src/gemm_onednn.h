// Matrix products on oneDNN's matmul (internal to gemm.cpp).
#pragma once

#include "gemm_pieces.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out = a @ b (+ bias, a row of out's dtype) for float16 or bfloat16 operands of out's dtype,
// 2-D or 3-D, read and written in 16 bits with float32 accumulation, on the CPU's 16-bit matrix
// instructions (AMX, AVX512-BF16, AVX512-FP16). Returns false, having done nothing, when oneDNN
// has no implementation for these operands on this CPU other than its slow reference one, or
// when the product is too small to gain from it.
bool onednn_gemm16(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                   const TensorDesc* bias);

// c = a @ b in float32 (m x n, row stride ldc) on the calling thread alone, on oneDNN's brgemm
// kernels. Returns false, having done nothing, for products too small to gain from them, or
// where oneDNN has no brgemm kernel for them (AVX2-only hosts: its other float32 kernels are not
// faster than OpenBLAS).
bool onednn_sgemm(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n,
                  std::int64_t k, const float* a, const float* b, float* c, std::int64_t ldc);

}  // namespace mlu::kernels
