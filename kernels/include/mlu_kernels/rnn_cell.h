// Fused recurrent cells, as PyTorch's _thnn_fused_*_cell operators define them (mlu/ops/rnn.h).
#pragma once

#include "mlu/ops/rnn.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void lstm_cell_forward(const LstmCell& cell);

// grad_hy and grad_cy may be null (no gradient flowing in).
void lstm_cell_backward(const TensorDesc* grad_hy, const TensorDesc* grad_cy, const TensorDesc& cx,
                        const TensorDesc& cy, const TensorDesc& workspace,
                        const TensorDesc& grad_gates, const TensorDesc& grad_cx);

void gru_cell_forward(const GruCell& cell);

void gru_cell_backward(const TensorDesc& grad_hy, const TensorDesc& workspace,
                       const TensorDesc& grad_input_gates, const TensorDesc& grad_hidden_gates,
                       const TensorDesc& grad_hx);

}  // namespace mlu::kernels
