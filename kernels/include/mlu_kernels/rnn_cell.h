// Fused recurrent cells, as PyTorch's _thnn_fused_*_cell operators define them. All operands are
// contiguous row-major matrices of one dtype; gates are [batch, k * hidden] in PyTorch's order.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct LstmCell {
  TensorDesc input_gates, hidden_gates, cx;  // [B, 4H], [B, 4H], [B, H]
  const TensorDesc* input_bias = nullptr;    // [4H] or null
  const TensorDesc* hidden_bias = nullptr;
  TensorDesc hy, cy, workspace;  // outputs: [B, H], [B, H], [B, 4H] activated gates i, f, g, o
};
void lstm_cell_forward(const LstmCell& cell);

// grad_hy and grad_cy may be null (no gradient flowing in).
void lstm_cell_backward(const TensorDesc* grad_hy, const TensorDesc* grad_cy, const TensorDesc& cx,
                        const TensorDesc& cy, const TensorDesc& workspace,
                        const TensorDesc& grad_gates, const TensorDesc& grad_cx);

struct GruCell {
  TensorDesc input_gates, hidden_gates, hx;  // [B, 3H], [B, 3H], [B, H]
  const TensorDesc* input_bias = nullptr;    // [3H] or null
  const TensorDesc* hidden_bias = nullptr;
  TensorDesc hy, workspace;  // outputs: [B, H], [B, 5H]: r, z, n, hx, hidden n gate
};
void gru_cell_forward(const GruCell& cell);

void gru_cell_backward(const TensorDesc& grad_hy, const TensorDesc& workspace,
                       const TensorDesc& grad_input_gates, const TensorDesc& grad_hidden_gates,
                       const TensorDesc& grad_hx);

}  // namespace mlu::kernels
