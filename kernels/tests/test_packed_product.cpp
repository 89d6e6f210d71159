// The packed right-operand product of recurrent layers against a naive one: every row count of a
// register tile and past it, column counts that leave part of a panel, padded row strides.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "packed_product.h"

namespace mlu::kernels {
namespace {

void expect_product(std::int64_t m, std::int64_t k, std::int64_t n, bool transposed,
                    bool accumulate) {
  const std::int64_t lda = k + 3, ldo = n + 5, ldb = (transposed ? k : n) + 2;
  std::vector<float> a(m * lda), b((transposed ? n : k) * ldb), out(m * ldo), expected;
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) - 3;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) * 0.5f - 1;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = float(i % 3);
  expected = out;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (std::int64_t p = 0; p < k; ++p)
        sum += a[i * lda + p] * (transposed ? b[j * ldb + p] : b[p * ldb + j]);
      expected[i * ldo + j] = accumulate ? expected[i * ldo + j] + sum : sum;
    }
  }
  PackedRight(b.data(), k, n, ldb, transposed)
      .multiply(a.data(), lda, m, out.data(), ldo, accumulate);
  // Small integers and halves: every partial sum is exact in float, whatever the order.
  EXPECT_EQ(out, expected) << m << " x " << k << " x " << n << (transposed ? " transposed" : "")
                           << (accumulate ? " accumulated" : "");
}

TEST(PackedProduct, MatchesANaiveProductOfEveryShape) {
  for (std::int64_t m : {1, 2, 5, 6, 7, 8, 9, 17}) {
    for (std::int64_t n : {1, 15, 16, 32, 33, 70}) {
      for (bool transposed : {false, true}) {
        for (bool accumulate : {false, true}) {
          expect_product(m, 37, n, transposed, accumulate);
        }
      }
    }
  }
}

// Large enough for the panels to be split between the kernel threads, which join once awake.
TEST(PackedProduct, PanelsSplitBetweenThreadsMatchTheNaiveProduct) {
  for (int round = 0; round < 20; ++round) expect_product(9, 100, 300, round % 2 == 0, true);
}

TEST(PackedProduct, AnEmptySumWritesZerosOrLeavesTheOutput) {
  expect_product(3, 0, 20, false, false);
  expect_product(3, 0, 20, true, true);
}

}  // namespace
}  // namespace mlu::kernels
