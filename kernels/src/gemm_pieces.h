// The BLAS call behind every float GEMM, split for CBLAS's 32-bit sizes (exposed for its test).
#pragma once

#include <cstdint>

namespace mlu::kernels {

struct Matrix {
  std::int64_t rows, cols, ld;
  bool transposed;  // stored column-major
};

// c = alpha * a @ b + beta * c (m x n, row stride ldc) in BLAS calls of at most `limit` along m,
// n and k; throws KernelError when a row stride exceeds 32 bits.
template <typename T>
void blas_gemm_in_pieces(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n,
                         std::int64_t k, T alpha, const T* a, const T* b, T beta, T* c,
                         std::int64_t ldc, std::int64_t limit);

}  // namespace mlu::kernels
