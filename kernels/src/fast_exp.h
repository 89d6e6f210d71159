// exp for the shifted arguments of softmax and log-sum-exp (x <= 0, -inf and NaN included),
// written so that loops over it vectorise: integer masks instead of float comparisons, which
// trapping math keeps the compiler from if-converting.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace mlu::kernels {

// Within 1 ulp of exp on [-87, 0]; 0 below -87 (where exp is subnormal) and for -inf.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  constexpr std::uint32_t kMinus87 = 0xC2AE0000u, kMinusInf = 0xFF800000u;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  // All ones where x < -87 (-inf included): negative floats order by their magnitude bits.
  const std::uint32_t underflows = 0u - static_cast<std::uint32_t>((bits > kMinus87) & (bits <= kMinusInf));
  const float clamped = std::bit_cast<float>((bits & ~underflows) | (kMinus87 & underflows));
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float p = 1.9875691500e-4f;  // Cephes' expf polynomial
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(y * scale) & ~underflows);
}

template <typename C>
inline C exp_shifted(C x) {
  if constexpr (std::is_same_v<C, float>) return exp_nonpositive(x);
  else return std::exp(x);
}

}  // namespace mlu::kernels
