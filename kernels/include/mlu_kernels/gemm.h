// Matrix products through the BLAS (OpenBLAS), as PyTorch CPU does.
#pragma once

#include "mlu_kernels/epilogue.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// What gemm does to each block of its result right after computing it, while it is in cache.
// Floating dtypes only.
struct GemmEpilogue {
  const TensorDesc* bias = nullptr;  // [n] (or [1, n]), times bias_scale, added to every row
  double bias_scale = 1;
  // out's shape: receives the value before the activation (what gelu's and silu's gradients need).
  const TensorDesc* pre_activation = nullptr;
  Activation activation = Activation::None;

  bool empty() const {
    return bias == nullptr && pre_activation == nullptr && activation == Activation::None;
  }
};

// out[i] = beta * out[i] + alpha * a[i] @ b[i] for 2-D operands (one product) or 3-D operands
// (a batch). Each matrix needs a unit stride in one of its two dims; out needs a unit column
// stride. With beta == 0 out is only written. float16 and bfloat16 compute in float32. Then the
// epilogue: out = activation(out + bias_scale * bias).
void gemm(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double alpha,
          double beta, const GemmEpilogue& epilogue = {});

// Whether a matrix (the last two dims of desc) can be passed to gemm without a copy.
bool gemm_compatible(const TensorDesc& desc);

}  // namespace mlu::kernels
