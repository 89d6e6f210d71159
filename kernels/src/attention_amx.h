// Attention with bfloat16 or float16 operands whose products run on AMX (attention_amx.cpp,
// attention_amx_batched.cpp).
#pragma once

#include "mlu_kernels/attention.h"

namespace mlu::kernels {

// Whether attention of this dtype runs its products on AMX: 16-bit operands whose products
// oneDNN runs with a float32 result on AMX on this CPU.
bool attention_on_amx(DType dtype);

void attention_forward_amx(const Attention& a);

void attention_backward_amx(const Attention& a, const TensorDesc& grad_out,
                            const TensorDesc& grad_q, const TensorDesc& grad_k,
                            const TensorDesc& grad_v);

}  // namespace mlu::kernels
