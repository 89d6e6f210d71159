// A float32 product whose right operand stays the same over many calls with a few rows on the
// left: a recurrent layer's per-step h @ W. W is packed once into column panels that a register
// tile streams through; BLAS packs it again on every call (an LSTM step's 8 x 256 by 256 x 1024
// took 82 us in OpenBLAS against 33 us this way on an AVX-512 Xeon, 8 x 128 by 128 x 512 10.5
// against 8).
#pragma once

#include <cstdint>
#include <vector>

namespace mlu::kernels {

class PackedRight {
 public:
  // The k x n right operand: b[p * ldb + j], or b[j * ldb + p] when transposed (b holds n x k).
  PackedRight(const float* b, std::int64_t k, std::int64_t n, std::int64_t ldb, bool transposed);

  // out (m x n, row stride ldo) = a (m x k, row stride lda) @ B, or += when accumulate.
  void multiply(const float* a, std::int64_t lda, std::int64_t m, float* out, std::int64_t ldo,
                bool accumulate) const;

 private:
  void multiply_panels(const float* a, std::int64_t lda, std::int64_t m, float* out,
                       std::int64_t ldo, bool accumulate, std::int64_t begin,
                       std::int64_t end) const;

  std::int64_t k_, n_;
  std::vector<float> panels_;  // [n / tile columns, rounded up][k][tile columns], zero padded
};

}  // namespace mlu::kernels
