// Activations a GEMM or a convolution applies to its result while it is still in cache: the
// fusion of linear + bias + activation and conv + bias + relu.
#pragma once

#include <cstdint>

namespace mlu::kernels {

enum class Activation : std::uint8_t { None, Relu, Gelu, GeluTanh, Silu };

}  // namespace mlu::kernels
