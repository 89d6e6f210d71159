// 16-bit matrix products on oneDNN's matmul (internal to gemm.cpp).
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out = a @ b (+ bias, a row of out's dtype) for float16 or bfloat16 operands of out's dtype,
// 2-D or 3-D, read and written in 16 bits with float32 accumulation, on the CPU's 16-bit matrix
// instructions (AMX, AVX512-BF16, AVX512-FP16). Returns false, having done nothing, when oneDNN
// has no implementation for these operands on this CPU other than its slow reference one, or
// when the product is too small to gain from it.
bool onednn_gemm16(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                   const TensorDesc* bias);

}  // namespace mlu::kernels
