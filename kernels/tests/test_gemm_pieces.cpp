// CBLAS takes 32-bit sizes: products beyond them are split into pieces (tested here with a small
// piece limit, since a 2^31-row matrix does not fit these machines' tests).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "gemm_pieces.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {
namespace {

// c = a @ b + 0.5 * c, with a stored as given and b transposed or not.
void expect_pieces_match(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb,
                         std::int64_t limit) {
  std::vector<float> a(m * k), b(k * n), c(m * n), expected(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) - 3;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) - 2;
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = expected[i] = float(i % 3);
  auto a_at = [&](std::int64_t r, std::int64_t j) { return ta ? a[j * m + r] : a[r * k + j]; };
  auto b_at = [&](std::int64_t r, std::int64_t j) { return tb ? b[j * k + r] : b[r * n + j]; };
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (std::int64_t p = 0; p < k; ++p) sum += a_at(i, p) * b_at(p, j);
      expected[i * n + j] = sum + 0.5f * expected[i * n + j];
    }
  }
  const Matrix ma{m, k, ta ? m : k, ta}, mb{k, n, tb ? k : n, tb};
  blas_gemm_in_pieces<float>(ma, mb, m, n, k, 1.0f, a.data(), b.data(), 0.5f, c.data(), n, limit);
  for (std::size_t i = 0; i < c.size(); ++i) ASSERT_FLOAT_EQ(c[i], expected[i]) << i;
}

TEST(GemmPieces, SplitsEverySideAndAccumulatesAlongK) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      expect_pieces_match(7, 5, 11, ta, tb, 3);  // uneven pieces on every side
      expect_pieces_match(4, 4, 4, ta, tb, 4);   // exactly one piece
    }
  }
}

TEST(GemmPieces, ARowStrideBeyond32BitsIsAnError) {
  const Matrix wide{1, 1, std::int64_t{1} << 32, false}, small{1, 1, 1, false};
  float x = 1, y = 1, z = 0;
  EXPECT_THROW(blas_gemm_in_pieces<float>(wide, small, 1, 1, 1, 1.0f, &x, &y, 0.0f, &z, 1,
                                          std::numeric_limits<int>::max()),
               KernelError);
}

}  // namespace
}  // namespace mlu::kernels
