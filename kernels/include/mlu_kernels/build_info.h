// What the kernel library was compiled for, for reports (python -m torch_mlu doctor).
#pragma once

#include <string>
#include <vector>

namespace mlu::kernels {

// The -march value this variant of the library was compiled with ("x86-64-v3", "native", ...):
// the dynamic loader picked it for this CPU (kernels/CMakeLists.txt).
std::string compiled_target();

// The x86-64 instruction-set extensions the kernels were compiled to use (-march), e.g. "AVX2",
// "AVX-512F", "AVX512-BF16", "AMX-TILE"; empty for the baseline.
std::vector<std::string> compiled_instruction_sets();

// How 16-bit matrix products run on this CPU, per dtype: "oneDNN" (16-bit operands on the CPU's
// 16-bit matrix instructions, chosen at run time) or "float32" (widened, then OpenBLAS).
std::string gemm16_path(bool bfloat16);

// How the matrix products of a float32 LSTM layer asked for 16-bit products (autocast) run on this
// CPU, per dtype: "AMX" (16-bit operands, float32 accumulation) or "float32".
std::string lstm16_path(bool bfloat16);

// How scaled_dot_product_attention multiplies 16-bit operands on this CPU, per dtype: "AMX"
// (16-bit operands, float32 accumulation, the weights rounded to the operands' dtype) or "float32"
// (each slice widened).
std::string attention16_path(bool bfloat16);

// How float32 matrix products run on this CPU: "oneDNN" (its brgemm kernels for all but small
// products) or "OpenBLAS".
std::string gemm32_path();

}  // namespace mlu::kernels
