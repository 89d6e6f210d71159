// Elementary functions in float written so that loops over them vectorise: no calls, no
// branches, integer bit tricks for the exponent. glibc's expf/tanhf/erff are scalar calls and
// made every activation 4-10x slower than PyTorch CPU, which uses vectorised (Sleef) versions.
// Accuracy: exp, log, tanh within 2 ulp of the correctly rounded result (tested against the C
// library in kernels/tests); erf is PyTorch CPU's own vectorised formula (Abramowitz and Stegun
// 7.1.26, absolute error below 6e-7 in float), so that mlu and CPU agree. double keeps the C
// library. Every function is always_inline: GCC stops inlining plain `inline` functions once a
// translation unit has grown, and a call per element does not vectorise (elementwise.cpp's exp
// became a scalar call when its binary loops were instantiated three ways: 655 us against CPU's
// 111 us for 262K floats).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace mlu::kernels {

namespace detail {

constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer

// Cephes' expf polynomial: exp(r) for |r| <= ln(2)/2.
[[gnu::always_inline]] inline float exp_reduced(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

[[gnu::always_inline]] inline float pow2(std::int32_t n) {
  return std::bit_cast<float>((n + 127) << 23);
}

}  // namespace detail

// exp for x <= 0 only (softmax and log-sum-exp arguments, -inf and NaN included), within 1 ulp on
// [-87, 0] and 0 below; integer masks instead of float comparisons keep it branch-free.
[[gnu::always_inline]] inline float exp_nonpositive(float x) {
  using namespace detail;
  constexpr std::uint32_t kMinus87 = 0xC2AE0000u, kMinusInf = 0xFF800000u;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  // All ones where x < -87 (-inf included): negative floats order by their magnitude bits.
  const std::uint32_t underflows =
      0u - static_cast<std::uint32_t>((bits > kMinus87) & (bits <= kMinusInf));
  const float clamped = std::bit_cast<float>((bits & ~underflows) | (kMinus87 & underflows));
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float y = exp_reduced(clamped - n * kLn2Hi - n * kLn2Lo);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(y * pow2(static_cast<std::int32_t>(n))) &
                              ~underflows);
}

// exp over the whole float range: overflow to inf, gradual underflow, NaN kept.
[[gnu::always_inline]] inline float exp_float(float x) {
  using namespace detail;
  const float clamped = std::min(std::max(x, -104.0f), 89.0f);
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float y = exp_reduced(clamped - n * kLn2Hi - n * kLn2Lo);
  // Scaling in two halves keeps each factor normal from 2^-150 to 2^128.
  const std::int32_t whole = static_cast<std::int32_t>(n), half = whole >> 1;
  const float result = y * pow2(half) * pow2(whole - half);
  return x != x ? x : result;
}

// Natural logarithm (Cephes' logf): 0 -> -inf, negative -> NaN, inf -> inf.
[[gnu::always_inline]] inline float log_float(float x) {
  constexpr float kSqrtHalf = 0.707106781186547524f;
  // Subnormals are scaled up by 2^23 first so that the exponent field holds them.
  const bool subnormal = x < 1.17549435e-38f;
  const float normal = subnormal ? x * 8388608.0f : x;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(normal);
  float e =
      static_cast<float>(static_cast<std::int32_t>(bits >> 23) - 126) - (subnormal ? 23.0f : 0.0f);
  float m = std::bit_cast<float>((bits & 0x007FFFFFu) | 0x3F000000u);  // in [0.5, 1)
  const bool low = m < kSqrtHalf;
  e = low ? e - 1.0f : e;
  m = low ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = m * z * p + e * detail::kLn2Lo - 0.5f * z;
  const float result = m + y + e * detail::kLn2Hi;
  const float special = x == 0.0f ? -INFINITY : (x < 0.0f || x != x ? NAN : INFINITY);
  return (x > 0.0f && x < INFINITY) ? result : special;
}

// log(1 + x), accurate for small x: log(u) * x / (u - 1) cancels the rounding of u = 1 + x.
[[gnu::always_inline]] inline float log1p_float(float x) {
  const float u = 1.0f + x;
  const float d = u - 1.0f;
  const float scaled = log_float(u) * (x / d);
  return d == 0.0f ? x : (u == INFINITY ? u : scaled);
}

[[gnu::always_inline]] inline float tanh_float(float x) {
  const float a = std::abs(x);
  // Small arguments: Cephes' tanhf polynomial; large: 1 - 2 / (exp(2a) + 1).
  const float s = x * x;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * a + a;
  const float large = 1.0f - 2.0f / (exp_float(a + a) + 1.0f);
  return std::copysign(a < 0.625f ? small : large, x);
}

[[gnu::always_inline]] inline float erf_float(float x) {
  const float a = std::abs(x);
  const float t = 1.0f / (0.3275911f * a + 1.0f);
  float r = 1.061405429f;
  r = r * t - 1.453152027f;
  r = r * t + 1.421413741f;
  r = r * t - 0.284496736f;
  r = r * t + 0.254829592f;
  return std::copysign(1.0f - r * t * exp_float(-(a * a)), x);
}

// The sine and cosine of 2 pi u, for u in [0, 1] (Box-Muller's angle): u is reduced in quarter
// turns, exactly for a multiple of 2^-24, and Cephes' sinf and cosf polynomials take the remainder
// in [-pi/4, pi/4].
[[gnu::always_inline]] inline void sincos_turns(float u, float& sine, float& cosine) {
  const float t = u * 4.0f;
  const float quarter = std::nearbyint(t);
  const float r = (t - quarter) * 1.57079632679489661923f;
  const float z = r * r;
  float s = -1.9515295891e-4f;
  s = s * z + 8.3321608736e-3f;
  s = s * z - 1.6666654611e-1f;
  s = s * z * r + r;
  float c = 2.443315711809948e-5f;
  c = c * z - 1.388731625493765e-3f;
  c = c * z + 4.166664568298827e-2f;
  c = c * z * z - 0.5f * z + 1.0f;
  const int q = static_cast<int>(quarter) & 3;
  sine = q == 0 ? s : (q == 1 ? c : (q == 2 ? -s : -c));
  cosine = q == 0 ? c : (q == 1 ? -s : (q == 2 ? -c : s));
}

// The compute-type dispatch the kernels use: vectorisable float versions, the C library otherwise.
template <typename C>
[[gnu::always_inline]] inline C vexp(C x) {
  if constexpr (std::is_same_v<C, float>)
    return exp_float(x);
  else
    return std::exp(x);
}
template <typename C>
[[gnu::always_inline]] inline C vlog(C x) {
  if constexpr (std::is_same_v<C, float>)
    return log_float(x);
  else
    return std::log(x);
}
template <typename C>
[[gnu::always_inline]] inline C vlog1p(C x) {
  if constexpr (std::is_same_v<C, float>)
    return log1p_float(x);
  else
    return std::log1p(x);
}
template <typename C>
[[gnu::always_inline]] inline C vtanh(C x) {
  if constexpr (std::is_same_v<C, float>)
    return tanh_float(x);
  else
    return std::tanh(x);
}
template <typename C>
[[gnu::always_inline]] inline C verf(C x) {
  if constexpr (std::is_same_v<C, float>)
    return erf_float(x);
  else
    return std::erf(x);
}
template <typename C>
[[gnu::always_inline]] inline C vsigmoid(C x) {
  return C(1) / (C(1) + vexp(C(-x)));
}

// exp of softmax's shifted arguments (x <= 0).
template <typename C>
[[gnu::always_inline]] inline C exp_shifted(C x) {
  if constexpr (std::is_same_v<C, float>)
    return exp_nonpositive(x);
  else
    return std::exp(x);
}

}  // namespace mlu::kernels
