// One LSTM layer in one direction over a whole sequence, as cuDNN and oneDNN run it: a single GEMM
// for the input projections of every step, then per step one small GEMM with the recurrent
// weights and the fused cell, all in one kernel (no per-step launches). PyTorch's gate order
// (i, f, g, o). float32 and float64; every operand contiguous and of one dtype.
#pragma once

#include <optional>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct LstmLayer {
  TensorDesc input;                      // [T, B, I]
  TensorDesc w_ih, w_hh;                 // [4H, I], [4H, H]
  std::optional<TensorDesc> b_ih, b_hh;  // [4H]
  TensorDesc h0, c0;                     // [B, H]
  bool reverse = false;                  // steps run from T - 1 down to 0
};

// What the forward pass writes, and the backward pass reads back.
struct LstmSequence {
  TensorDesc output;  // [T, B, H]: h after every step
  TensorDesc hy, cy;  // [B, H]: the state after the last step
  TensorDesc gates;   // [T, B, 4H]: activated i, f, g, o of every step
  TensorDesc cells;   // [T, B, H]: c after every step
};

void lstm_layer_forward(const LstmLayer& layer, const LstmSequence& seq);

struct LstmLayerGrads {
  const TensorDesc* grad_output = nullptr;  // [T, B, H]; null: no gradient
  const TensorDesc* grad_hy = nullptr;      // [B, H]; null: no gradient
  const TensorDesc* grad_cy = nullptr;
  TensorDesc grad_gates;            // [T, B, 4H], scratch
  TensorDesc grad_input;            // [T, B, I]
  TensorDesc grad_h0, grad_c0;      // [B, H]
  TensorDesc grad_w_ih, grad_w_hh;  // [4H, I], [4H, H]
  TensorDesc grad_bias;             // [4H]: the gradient of either bias
};

void lstm_layer_backward(const LstmLayer& layer, const LstmSequence& seq,
                         const LstmLayerGrads& grads);

}  // namespace mlu::kernels
