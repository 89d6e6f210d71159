// The activation formulas shared by the elementwise kernels and the GEMM and convolution
// epilogues, so that a fused linear + gelu gives the values of linear followed by gelu.
#pragma once

#include <cstdint>

#include "mlu/ops/gemm.h"  // Activation
#include "mlu_kernels/tensor_desc.h"
#include "vec_math.h"

namespace mlu::kernels {

inline constexpr double kSqrt1_2 = 0.70710678118654752440;
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;
inline constexpr double kSqrt2OverPi = 0.79788456080286535588;
inline constexpr double kGeluKappa = 0.044715;

// NaN stays NaN, as in PyTorch.
template <typename C>
[[gnu::always_inline]] inline C relu(C x) {
  return x < C(0) ? C(0) : x;
}
template <typename C>
[[gnu::always_inline]] inline C gelu(C x) {
  return C(0.5) * x * (C(1) + verf(x * C(kSqrt1_2)));
}
template <typename C>
[[gnu::always_inline]] inline C gelu_tanh(C x) {
  return C(0.5) * x * (C(1) + vtanh(C(kSqrt2OverPi) * (x + C(kGeluKappa) * x * x * x)));
}
template <typename C>
[[gnu::always_inline]] inline C silu(C x) {
  return x * vsigmoid(x);
}

// x[i] = act(x[i]) for n contiguous values; one loop per activation, so that each vectorises.
template <typename C>
void activate(Activation act, C* x, std::int64_t n) {
  auto each = [&](auto f) {
    for (std::int64_t i = 0; i < n; ++i) x[i] = f(x[i]);
  };
  switch (act) {
    case Activation::None: return;
    case Activation::Relu: return each([](C v) { return relu(v); });
    case Activation::Gelu: return each([](C v) { return gelu(v); });
    case Activation::GeluTanh: return each([](C v) { return gelu_tanh(v); });
    case Activation::Silu: return each([](C v) { return silu(v); });
  }
}

}  // namespace mlu::kernels
