// 16-bit products with a float32 result on AMX (an LSTM's products under autocast): against a
// float64 product of the same 16-bit operands, plain and accumulating, with a transposed operand,
// once (amx_product) and repeated on new operands (AmxStepProduct).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "desc.h"
#include "gemm_onednn.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

std::vector<BFloat16> random16(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<BFloat16> v(n);
  for (auto& x : v) x = to_bfloat16(dist(gen));
  return v;
}

// out (m x n, float32) after out = start + a @ b, a m x k, b k x n stored transposed (n x k).
std::vector<double> reference(const std::vector<BFloat16>& a, const std::vector<BFloat16>& b,
                              const std::vector<float>& start, std::int64_t m, std::int64_t n,
                              std::int64_t k) {
  std::vector<double> out(start.begin(), start.end());
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t p = 0; p < k; ++p)
        out[i * n + j] += static_cast<double>(to_float(a[i * k + p])) * to_float(b[j * k + p]);
  return out;
}

struct Operands {
  std::int64_t m, n, k;
  std::vector<BFloat16> a = random16(m * k, 1), b = random16(n * k, 2);
  std::vector<float> out = std::vector<float>(m * n, 0.5f);
  TensorDesc da = contiguous(DType::BFloat16, a, {m, k});
  TensorDesc db = transposed(contiguous(DType::BFloat16, b, {n, k}));
  TensorDesc dout = contiguous(DType::Float32, out, {m, n});

  static TensorDesc transposed(TensorDesc d) {
    std::swap(d.sizes[0], d.sizes[1]);
    std::swap(d.strides[0], d.strides[1]);
    return d;
  }
};

void expect_near(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << "element " << i;
}

TEST(AmxProduct, MatchesFloat64OfTheSameOperandsPlainAndAccumulating) {
  if (!amx_products(DType::BFloat16)) GTEST_SKIP() << "no AMX for bfloat16 on this CPU";
  for (bool accumulate : {false, true}) {
    for (auto [m, n, k] : {std::array<std::int64_t, 3>{8, 512, 128}, {256, 512, 128}}) {
      Operands o{m, n, k};
      const std::vector<float> start =
          accumulate ? o.out : std::vector<float>(static_cast<std::size_t>(m * n), 0.f);
      ASSERT_TRUE(amx_product(o.dout, o.da, o.db, accumulate));
      expect_near(o.out, reference(o.a, o.b, start, m, n, k));
    }
  }
}

TEST(AmxProduct, AStepProductRunsOnNewOperandsOfItsShape) {
  if (!amx_products(DType::BFloat16)) GTEST_SKIP() << "no AMX for bfloat16 on this CPU";
  Operands first{8, 64, 32}, second{8, 64, 32};
  second.a = random16(8 * 32, 7);
  const auto step = AmxStepProduct::make(first.dout, first.da, first.db, true);
  ASSERT_NE(step, nullptr);
  for (Operands* o : {&first, &second}) {
    const std::vector<float> start = o->out;
    step->run(o->out.data(), o->a.data(), o->b.data());
    expect_near(o->out, reference(o->a, o->b, start, 8, 64, 32));
  }
}

TEST(AmxProduct, RefusesWhereTheCpuHasNoAmx) {
  // Without AMX, nothing is planned and the caller keeps its float32 products.
  Operands o{8, 64, 32};
  const std::vector<float> before = o.out;
  if (amx_products(DType::BFloat16)) GTEST_SKIP() << "this CPU has AMX for bfloat16";
  EXPECT_FALSE(amx_product(o.dout, o.da, o.db, true));
  EXPECT_EQ(AmxStepProduct::make(o.dout, o.da, o.db, true), nullptr);
  EXPECT_EQ(o.out, before);
}

}  // namespace
}  // namespace mlu::kernels
