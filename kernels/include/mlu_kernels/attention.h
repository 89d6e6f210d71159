// Attention kernels: the implementation of mlu/ops/attention.h's operations.
#pragma once

#include "mlu/ops/attention.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void attention_forward(const Attention& a);

void attention_backward(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                        const TensorDesc& grad_k, const TensorDesc& grad_v);

}  // namespace mlu::kernels
