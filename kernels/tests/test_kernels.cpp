// A few kernels of the library on raw descriptors, without ATen: broadcasting through zero
// strides, 16-bit storage computed in float, reductions, softmax and GEMM.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "desc.h"
#include "mlu_kernels/copy.h"
#include "mlu_kernels/elementwise.h"
#include "mlu_kernels/gemm.h"
#include "mlu_kernels/reduce.h"
#include "mlu_kernels/softmax.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

TEST(Elementwise, AddBroadcastsThroughZeroStrides) {
  std::vector<float> a(6), b{10, 20, 30}, out(6);
  std::iota(a.begin(), a.end(), 0.0f);
  const TensorDesc da = contiguous(DType::Float32, a, {2, 3});
  TensorDesc db = contiguous(DType::Float32, b, {2, 3});
  db.strides[0] = 0;
  binary(BinaryOp::Add, contiguous(DType::Float32, out, {2, 3}), da, db, 2.0);
  EXPECT_EQ(out, (std::vector<float>{20, 41, 62, 23, 44, 65}));
}

TEST(Elementwise, HalfComputesInFloatAndRoundsOnce) {
  // Halves above 2048 are 2 apart, so the odd sums here are ties: each result must be the exact
  // float sum rounded once, to even.
  std::vector<Half> a(64), b(64), out(64);
  for (int i = 0; i < 64; ++i) {
    a[i] = to_half(2048.0f + 2 * i);
    b[i] = to_half(i % 4);
  }
  binary(BinaryOp::Add, contiguous(DType::Float16, out, {64}), contiguous(DType::Float16, a, {64}),
         contiguous(DType::Float16, b, {64}));
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(out[i].bits, to_half(to_float(a[i]) + to_float(b[i])).bits) << i;
  }
}

TEST(Elementwise, IntegerOnlyOpsRefuseFloats) {
  std::vector<float> x(4), y(4);
  EXPECT_THROW(unary(UnaryOp::BitwiseNot, contiguous(DType::Float32, y, {4}),
                     contiguous(DType::Float32, x, {4})),
               KernelError);
}

TEST(Copy, TransposeAndCastToBFloat16) {
  std::vector<float> src{1, 2, 3, 4, 5, 6};
  std::vector<BFloat16> dst(6);
  TensorDesc s = contiguous(DType::Float32, src, {3, 2});  // read as its [2, 3] transpose
  std::swap(s.sizes[0], s.sizes[1]);
  std::swap(s.strides[0], s.strides[1]);
  copy(contiguous(DType::BFloat16, dst, {2, 3}), s);
  const std::vector<float> expected{1, 3, 5, 2, 4, 6};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(to_float(dst[i]), expected[i]);
}

TEST(Reduce, SumAndMaxOverOneDim) {
  std::vector<double> in{1, 5, 3, -2, 8, 0}, sum(2), max(2);
  const TensorDesc din = contiguous(DType::Float64, in, {2, 3});
  reduce(ReduceOp::Sum, contiguous(DType::Float64, sum, {2, 1}), din);
  reduce(ReduceOp::Max, contiguous(DType::Float64, max, {2, 1}), din);
  EXPECT_EQ(sum, (std::vector<double>{9, 6}));
  EXPECT_EQ(max, (std::vector<double>{5, 8}));
}

TEST(Reduce, LargeFloatSumStaysAccurate) {
  // 2^24 + ... : naive float accumulation of a million 0.1s drifts by ~1%; pairwise does not.
  std::vector<float> in(1 << 20, 0.1f), out(1);
  reduce(ReduceOp::Sum, contiguous(DType::Float32, out, {1}),
         contiguous(DType::Float32, in, {1 << 20}));
  EXPECT_NEAR(out[0], 0.1 * (1 << 20), 0.5);
}

TEST(Softmax, RowsSumToOneAndSurviveLargeInputs) {
  std::vector<float> in{1000, 1001, 1002, -5, 0, 5}, out(6);
  softmax(contiguous(DType::Float32, out, {2, 3}), contiguous(DType::Float32, in, {2, 3}), 1,
          false);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NEAR(out[3 * r] + out[3 * r + 1] + out[3 * r + 2], 1.0f, 1e-6f);
  }
  EXPECT_NEAR(out[2], std::exp(2.0) / (1 + std::exp(1.0) + std::exp(2.0)), 1e-6);
}

TEST(Gemm, MatchesNaiveProductWithTransposedOperand) {
  const int m = 5, k = 7, n = 3;
  std::vector<float> a(m * k), bt(n * k), out(m * n, 1.0f);
  for (int i = 0; i < m * k; ++i) a[i] = static_cast<float>(i % 11) - 5;
  for (int i = 0; i < n * k; ++i) bt[i] = static_cast<float>(i % 7) - 3;
  TensorDesc b = contiguous(DType::Float32, bt, {n, k});  // b = bt^T, a [k, n] view
  std::swap(b.sizes[0], b.sizes[1]);
  std::swap(b.strides[0], b.strides[1]);
  gemm(contiguous(DType::Float32, out, {m, n}), contiguous(DType::Float32, a, {m, k}), b, 2.0, 0.5);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float expected = 0.5f;
      for (int p = 0; p < k; ++p) expected += 2 * a[i * k + p] * bt[j * k + p];
      EXPECT_FLOAT_EQ(out[i * n + j], expected);
    }
  }
}

TEST(Gemm, RefusesMismatchedShapes) {
  std::vector<float> a(6), b(6), out(4);
  EXPECT_THROW(gemm(contiguous(DType::Float32, out, {2, 2}), contiguous(DType::Float32, a, {2, 3}),
                    contiguous(DType::Float32, b, {2, 3}), 1.0, 0.0),
               KernelError);
}

}  // namespace
}  // namespace mlu::kernels
