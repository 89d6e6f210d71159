// Scaled dot-product attention as a tiled, flash-style kernel (mlu/ops/attention.h).
#pragma once

#include "mlu/ops/attention.h"
#include "mlu_kernels/random.h"  // the dropout draws the library's Philox blocks
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void attention_forward(const Attention& a);

// grad_q, grad_k, grad_v: contiguous, shaped like q, k, v. a.out and a.logsumexp are the forward's.
void attention_backward(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                        const TensorDesc& grad_k, const TensorDesc& grad_v);

}  // namespace mlu::kernels
