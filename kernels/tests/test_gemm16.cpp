// 16-bit products: oneDNN's matmul where this CPU has the instructions, widened float32 where not
// or where the product is small; both must agree with a float64 product of the same 16-bit
// operands, for plain, transposed, batched and biased operands.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "desc.h"
#include "mlu_kernels/build_info.h"
#include "mlu_kernels/gemm.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

template <typename T>
T to16(float f) {
  if constexpr (std::is_same_v<T, BFloat16>)
    return to_bfloat16(f);
  else
    return to_half(f);
}

template <typename T>
struct Case : ::testing::Test {
  static constexpr DType kType = std::is_same_v<T, BFloat16> ? DType::BFloat16 : DType::Float16;

  static std::vector<T> random(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1, 1);
    std::vector<T> v(n);
    for (auto& x : v) x = to16<T>(dist(gen));
    return v;
  }

  // out[i] = a[i] @ b[i] (+ bias) in float64 from the 16-bit operands; b is [k, n], or [n, k]
  // read transposed; the bias is a row of n values, or of one broadcast over the row.
  static void check(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                    bool b_transposed, bool with_bias, bool one_value_bias = false) {
    const std::int64_t bias_length = one_value_bias ? 1 : n;
    std::vector<T> a = random(batch * m * k, 1), b = random(batch * k * n, 2),
                   bias = random(bias_length, 3);
    std::vector<T> out(batch * m * n);
    TensorDesc da = contiguous(kType, a, {batch, m, k}), db = contiguous(kType, b, {batch, k, n}),
               dout = contiguous(kType, out, {batch, m, n});
    if (b_transposed) {  // element (p, q) of b at p + q * k
      db.strides[1] = 1;
      db.strides[2] = k;
    }
    TensorDesc dbias = contiguous(kType, bias, {bias_length});
    if (batch == 1) {  // 2-D operands
      for (TensorDesc* d : {&da, &db, &dout}) {
        for (int i = 0; i < 2; ++i) {
          d->sizes[i] = d->sizes[i + 1];
          d->strides[i] = d->strides[i + 1];
        }
        d->ndim = 2;
      }
    }
    GemmEpilogue epilogue;
    if (with_bias) epilogue.bias = dbias;
    gemm(dout, da, db, 1.0, 0.0, epilogue);
    for (std::int64_t i = 0; i < batch; ++i) {
      for (std::int64_t p = 0; p < m; ++p) {
        for (std::int64_t q = 0; q < n; ++q) {
          double want = with_bias ? to_float(bias[one_value_bias ? 0 : q]) : 0.0;
          for (std::int64_t r = 0; r < k; ++r) {
            const T bv = b_transposed ? b[i * k * n + r + q * k] : b[i * k * n + r * n + q];
            want += double(to_float(a[(i * m + p) * k + r])) * to_float(bv);
          }
          const double got = to_float(out[(i * m + p) * n + q]);
          // one rounding of the result to 16 bits, plus float32 accumulation
          const double tolerance = (kType == DType::BFloat16 ? 8e-3 : 1e-3) * (std::abs(want) + 1);
          ASSERT_NEAR(got, want, tolerance) << "at " << i << "," << p << "," << q;
        }
      }
    }
  }
};

using Types = ::testing::Types<BFloat16, Half>;
TYPED_TEST_SUITE(Case, Types);

TYPED_TEST(Case, LargeProductMatchesFloat64) { TestFixture::check(1, 128, 160, 96, false, false); }
TYPED_TEST(Case, TransposedOperandWithBias) { TestFixture::check(1, 128, 96, 160, true, true); }
TYPED_TEST(Case, Batched) { TestFixture::check(4, 64, 64, 72, false, false); }
TYPED_TEST(Case, SmallProductIsWidened) { TestFixture::check(1, 8, 12, 16, false, true); }

// Products of 2^21 multiply-adds and more are split across the kernel threads (two or more, as
// on the machines this runs on), each slice on oneDNN with one thread: along the batch, else along
// the longer side, the bias and a transposed operand split with the columns.
TYPED_TEST(Case, SplitAlongRows) { TestFixture::check(1, 256, 96, 128, false, true); }
TYPED_TEST(Case, SplitAlongColumnsWithBiasAndTransposedOperand) {
  TestFixture::check(1, 96, 256, 128, true, true);
}
TYPED_TEST(Case, SplitAlongColumnsWithOneValueBias) {
  TestFixture::check(1, 96, 256, 128, false, true, true);
}
TYPED_TEST(Case, SplitAlongUnevenBatch) { TestFixture::check(3, 64, 96, 128, true, true); }

TEST(Gemm16Path, NamesOneDnnOrFloat32) {
  for (bool bf16 : {true, false}) {
    const std::string path = gemm16_path(bf16);
    EXPECT_TRUE(path == "oneDNN" || path == "float32") << path;
  }
}

}  // namespace
}  // namespace mlu::kernels
