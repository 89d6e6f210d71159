// What the GEMM kernels share: the BLAS call behind every float GEMM, split for CBLAS's 32-bit
// sizes (exposed for its test), and how a product is split across the kernel threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "mlu_kernels/parallel.h"

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

// Products of at least 2^21 multiply-adds are split across the kernel threads; smaller ones run on
// the calling thread alone, where waking a helper costs more than it saves.
inline std::int64_t gemm_threads(double multiply_adds) {
  return multiply_adds >= (1 << 21) ? kernel_threads() : 1;
}

// Slices (at least one) of a side split between `threads`, each at least 32 rows or columns:
// thinner slices lose more in packing than they gain.
inline std::int64_t gemm_slices(std::int64_t side, std::int64_t threads) {
  return std::max<std::int64_t>(1, std::min(threads, side / 32));
}

}  // namespace mlu::kernels
