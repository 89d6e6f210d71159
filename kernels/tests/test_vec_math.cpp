// The vectorisable float functions against the C library evaluated in double and rounded once
// (the correctly rounded float result, up to double's own error), over a million floats spread
// across every exponent and sign, and on the special values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "vec_math.h"

namespace mlu::kernels {
namespace {

// Distance in units in the last place; 0 for two NaNs, huge for a NaN against a number.
std::int64_t ulps(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  auto ordered = [](float f) {
    const auto bits = static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(f));
    return bits & 0x80000000 ? 0x80000000 - bits : bits;
  };
  return std::abs(ordered(a) - ordered(b));
}

template <typename Fn, typename Check>
void sweep(Fn fn, Check check) {
  for (std::uint64_t bits = 0; bits <= 0xffffffffu; bits += 4093) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    check(x, fn(x));
  }
}

// fn is a lambda around the function under test: the functions are always_inline, which an
// indirect call through a pointer cannot be (GCC refuses to build that at -O1, as in TSAN builds).
template <typename Fn>
void expect_within_ulps(Fn fn, double (*reference)(double), std::int64_t limit) {
  std::int64_t worst = 0;
  float worst_x = 0;
  sweep(fn, [&](float x, float got) {
    const float expected = static_cast<float>(reference(x));
    if (ulps(got, expected) > worst) worst = ulps(got, expected), worst_x = x;
  });
  EXPECT_LE(worst, limit) << "at x = " << worst_x;
}

TEST(VecMath, ExpWithinTwoUlps) {
  expect_within_ulps([](float x) { return exp_float(x); }, [](double x) { return std::exp(x); }, 2);
  EXPECT_EQ(exp_float(INFINITY), INFINITY);
  EXPECT_EQ(exp_float(-INFINITY), 0.0f);
  EXPECT_EQ(exp_float(100.0f), INFINITY);
  EXPECT_EQ(exp_float(0.0f), 1.0f);
  EXPECT_GT(exp_float(-100.0f), 0.0f);  // gradual underflow, not flushed
  EXPECT_TRUE(std::isnan(exp_float(NAN)));
}

TEST(VecMath, ExpOfNonPositiveWithinOneUlp) {
  std::int64_t worst = 0;
  sweep([](float x) { return exp_nonpositive(x); },
        [&](float x, float got) {
          if (!(x <= 0.0f) || x < -87.0f) return;
          worst = std::max(worst, ulps(got, static_cast<float>(std::exp(static_cast<double>(x)))));
        });
  EXPECT_LE(worst, 1);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  EXPECT_EQ(exp_nonpositive(-100.0f), 0.0f);
}

TEST(VecMath, LogWithinTwoUlps) {
  expect_within_ulps([](float x) { return log_float(x); }, [](double x) { return std::log(x); }, 2);
  EXPECT_EQ(log_float(0.0f), -INFINITY);
  EXPECT_EQ(log_float(-0.0f), -INFINITY);
  EXPECT_EQ(log_float(INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(log_float(-1.0f)));
  EXPECT_TRUE(std::isnan(log_float(NAN)));
  EXPECT_EQ(log_float(1.0f), 0.0f);
}

TEST(VecMath, Log1pWithinTwoUlps) {
  expect_within_ulps([](float x) { return log1p_float(x); }, [](double x) { return std::log1p(x); },
                     2);
  EXPECT_EQ(log1p_float(-1.0f), -INFINITY);
  EXPECT_EQ(log1p_float(INFINITY), INFINITY);
  EXPECT_EQ(log1p_float(1e-30f), 1e-30f);
}

TEST(VecMath, TanhWithinTwoUlps) {
  expect_within_ulps([](float x) { return tanh_float(x); }, [](double x) { return std::tanh(x); },
                     2);
  EXPECT_EQ(tanh_float(INFINITY), 1.0f);
  EXPECT_EQ(tanh_float(-INFINITY), -1.0f);
  EXPECT_TRUE(std::signbit(tanh_float(-0.0f)));
}

// PyTorch CPU's formula: 1.5e-7 absolute error in exact arithmetic, plus float rounding.
TEST(VecMath, ErfWithinAbsoluteErrorOfPyTorchFormula) {
  double worst = 0;
  sweep([](float x) { return erf_float(x); },
        [&](float x, float got) {
          if (!std::isnan(x))
            worst = std::max(worst, std::abs(got - std::erf(static_cast<double>(x))));
          else
            EXPECT_TRUE(std::isnan(got));
        });
  EXPECT_LE(worst, 6e-7);
  EXPECT_EQ(erf_float(INFINITY), 1.0f);
  EXPECT_EQ(erf_float(-INFINITY), -1.0f);
}

TEST(VecMath, SincosOfTurnsWithinThreeUlps) {
  // Every multiple of 2^-24 in [0, 1] that Box-Muller's angles take, against the C library in
  // double; where the result is near zero, within 2^-24 of it (the error of u itself).
  std::int64_t worst = 0;
  float worst_u = 0;
  for (std::uint32_t k = 0; k <= (1u << 24); k += 7) {
    const float u = static_cast<float>(k) * 0x1p-24f;
    float sine, cosine;
    sincos_turns(u, sine, cosine);
    const double angle = 6.283185307179586476925 * static_cast<double>(u);
    const std::pair<float, double> results[] = {{sine, std::sin(angle)}, {cosine, std::cos(angle)}};
    for (const auto& [got, exact] : results) {
      if (std::abs(got - exact) <= 0x1p-24) continue;
      if (ulps(got, static_cast<float>(exact)) > worst)
        worst = ulps(got, static_cast<float>(exact)), worst_u = u;
    }
  }
  EXPECT_LE(worst, 3) << "at u = " << worst_u;
  float sine, cosine;
  sincos_turns(0.25f, sine, cosine);
  EXPECT_EQ(sine, 1.0f);
  EXPECT_EQ(cosine, 0.0f);
}

TEST(VecMath, SigmoidSaturatesWithoutNaN) {
  EXPECT_EQ(vsigmoid(-200.0f), 0.0f);
  EXPECT_EQ(vsigmoid(200.0f), 1.0f);
  EXPECT_EQ(vsigmoid(0.0f), 0.5f);
  EXPECT_NEAR(vsigmoid(1.5f), 1.0 / (1.0 + std::exp(-1.5)), 1e-7);
}

}  // namespace
}  // namespace mlu::kernels
