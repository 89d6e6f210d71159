// What the fused operators' kernels (linear_algebra.cpp) and derivatives (fused.cpp) share.
#pragma once

#include <c10/util/string_view.h>

#include "mlu_kernels/epilogue.h"

namespace torch_mlu::ops {

// The activation an operator argument names: none, relu, gelu, gelu_tanh or silu.
mlu::kernels::Activation activation_named(c10::string_view name);

}  // namespace torch_mlu::ops
