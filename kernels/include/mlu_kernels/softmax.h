// Softmax and log-softmax along one dim: per row the maximum, the sum of exp(x - max), then the
// normalised outputs. float16 and bfloat16 compute in float32.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out has in's shape and in's dtype, or float32 for a float16/bfloat16 input.
void softmax(const TensorDesc& out, const TensorDesc& in, int dim, bool log);

// From the forward's output y and the incoming gradient g: grad_in = y * (g - sum(g * y)) for
// softmax, g - exp(y) * sum(g) for log-softmax. grad_out and output share a dtype; grad_in has
// it or, when they are float32, float16/bfloat16.
void softmax_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                      const TensorDesc& output, int dim, bool log);

}  // namespace mlu::kernels
