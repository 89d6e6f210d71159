// GEMM and convolution epilogues: the fused result equals the product (or convolution) followed by
// the bias and the activation as separate steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "desc.h"
#include "mlu_kernels/conv.h"
#include "mlu_kernels/gemm.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i % 13) - 6);
  return v;
}

double gelu_reference(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

class GemmEpilogueSizes : public ::testing::TestWithParam<int> {};

// Large enough (m = 1024) that the product is split across threads: every block gets its epilogue.
TEST_P(GemmEpilogueSizes, BiasGeluAndPreActivation) {
  const int m = GetParam(), k = 64, n = 48;
  std::vector<float> a = ramp(m * k, 0.05f), b = ramp(k * n, 0.03f), bias = ramp(n, 0.5f);
  std::vector<float> out(m * n), pre(m * n), plain(m * n);
  gemm(contiguous(DType::Float32, plain, {m, n}), contiguous(DType::Float32, a, {m, k}),
       contiguous(DType::Float32, b, {k, n}), 1.0, 0.0);
  const TensorDesc bias_desc = contiguous(DType::Float32, bias, {n});
  const TensorDesc pre_desc = contiguous(DType::Float32, pre, {m, n});
  GemmEpilogue epilogue;
  epilogue.bias = bias_desc;
  epilogue.bias_scale = 2.0;
  epilogue.pre_activation = pre_desc;
  epilogue.activation = Activation::Gelu;
  gemm(contiguous(DType::Float32, out, {m, n}), contiguous(DType::Float32, a, {m, k}),
       contiguous(DType::Float32, b, {k, n}), 1.0, 0.0, epilogue);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      const float expected_pre = plain[i * n + j] + 2 * bias[j];
      ASSERT_FLOAT_EQ(pre[i * n + j], expected_pre) << i << "," << j;
      ASSERT_NEAR(out[i * n + j], gelu_reference(expected_pre), 2e-6 * (1 + std::abs(expected_pre)))
          << i << "," << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmEpilogueSizes, ::testing::Values(3, 1024));

TEST(GemmEpilogue, BFloat16BiasAndReluComputeInFloat) {
  const int m = 4, k = 8, n = 5;
  std::vector<float> a32 = ramp(m * k, 0.25f), b32 = ramp(k * n, 0.5f), bias32 = ramp(n, 1.0f);
  std::vector<BFloat16> a(m * k), b(k * n), bias(n), out(m * n);
  auto narrow = [](const std::vector<float>& from, std::vector<BFloat16>& to) {
    for (std::size_t i = 0; i < from.size(); ++i) to[i] = to_bfloat16(from[i]);
  };
  narrow(a32, a), narrow(b32, b), narrow(bias32, bias);
  const TensorDesc bias_desc = contiguous(DType::BFloat16, bias, {n});
  GemmEpilogue epilogue;
  epilogue.bias = bias_desc;
  epilogue.activation = Activation::Relu;
  gemm(contiguous(DType::BFloat16, out, {m, n}), contiguous(DType::BFloat16, a, {m, k}),
       contiguous(DType::BFloat16, b, {k, n}), 1.0, 0.0, epilogue);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float acc = to_float(bias[j]);
      for (int p = 0; p < k; ++p) acc += to_float(a[i * k + p]) * to_float(b[p * n + j]);
      EXPECT_EQ(to_float(out[i * n + j]), to_float(to_bfloat16(std::max(acc, 0.0f))));
    }
  }
}

TEST(GemmEpilogue, RefusesIntegersAndMismatchedBiasOrPreActivation) {
  std::vector<std::int32_t> ia(4), ib(4), iout(4);
  GemmEpilogue relu;
  relu.activation = Activation::Relu;
  EXPECT_THROW(gemm(contiguous(DType::Int32, iout, {2, 2}), contiguous(DType::Int32, ia, {2, 2}),
                    contiguous(DType::Int32, ib, {2, 2}), 1.0, 0.0, relu),
               KernelError);
  std::vector<float> a(4), b(4), out(4), three(3);
  auto multiply = [&](const GemmEpilogue& epilogue) {
    gemm(contiguous(DType::Float32, out, {2, 2}), contiguous(DType::Float32, a, {2, 2}),
         contiguous(DType::Float32, b, {2, 2}), 1.0, 0.0, epilogue);
  };
  const TensorDesc not_a_row = contiguous(DType::Float32, three, {3});
  GemmEpilogue wrong_bias, wrong_pre;
  wrong_bias.bias = not_a_row;
  wrong_pre.pre_activation = not_a_row;
  EXPECT_THROW(multiply(wrong_bias), KernelError);
  EXPECT_THROW(multiply(wrong_pre), KernelError);
}

TEST(ConvEpilogue, ReluFollowsBiasForFloatAndDouble) {
  ConvParams params;
  params.padding = {1, 1, 0};
  std::vector<float> in = ramp(2 * 3 * 5 * 5, 0.1f), weight = ramp(4 * 3 * 3 * 3, 0.2f),
                     bias = ramp(4, 0.7f), plain(2 * 4 * 5 * 5), fused(plain.size());
  auto run = [&](auto& out_vec, DType dtype, auto& x, auto& w, auto& b) {
    const TensorDesc bias_desc = contiguous(dtype, b, {4});
    convolution(params, contiguous(dtype, out_vec, {2, 4, 5, 5}),
                contiguous(dtype, x, {2, 3, 5, 5}), contiguous(dtype, w, {4, 3, 3, 3}), &bias_desc);
  };
  run(plain, DType::Float32, in, weight, bias);
  params.activation = Activation::Relu;
  run(fused, DType::Float32, in, weight, bias);
  std::vector<double> in64(in.begin(), in.end()), w64(weight.begin(), weight.end()),
      b64(bias.begin(), bias.end()), fused64(plain.size());
  run(fused64, DType::Float64, in64, w64, b64);
  int negatives = 0;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    negatives += plain[i] < 0;
    EXPECT_EQ(fused[i], std::max(plain[i], 0.0f)) << i;
    EXPECT_NEAR(fused64[i], std::max(plain[i], 0.0f), 1e-5) << i;
  }
  EXPECT_GT(negatives, 0);  // the relu had something to do
  params.activation = Activation::Gelu;
  EXPECT_THROW(run(fused, DType::Float32, in, weight, bias), KernelError);
}

}  // namespace
}  // namespace mlu::kernels
