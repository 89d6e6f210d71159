// Recurrent networks: the fused cells of PyTorch's _thnn_fused_*_cell operators, and one LSTM
// layer in one direction over a whole sequence.
#pragma once

#include <optional>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// Fused cells: all operands are contiguous row-major matrices of one dtype; gates are
// [batch, k * hidden] in PyTorch's order.
struct LstmCell {
  static constexpr const char* name = "lstm_cell";
  TensorDesc input_gates, hidden_gates, cx;  // [B, 4H], [B, 4H], [B, H]
  std::optional<TensorDesc> input_bias;      // [4H]
  std::optional<TensorDesc> hidden_bias;
  TensorDesc hy, cy, workspace;  // outputs: [B, H], [B, H], [B, 4H] activated gates i, f, g, o
};

// grad_hy and grad_cy absent: no gradient flowing in.
struct LstmCellBackward {
  static constexpr const char* name = "lstm_cell_backward";
  std::optional<TensorDesc> grad_hy, grad_cy;
  TensorDesc cx, cy, workspace;
  TensorDesc grad_gates, grad_cx;  // outputs
};

struct GruCell {
  static constexpr const char* name = "gru_cell";
  TensorDesc input_gates, hidden_gates, hx;  // [B, 3H], [B, 3H], [B, H]
  std::optional<TensorDesc> input_bias;      // [3H]
  std::optional<TensorDesc> hidden_bias;
  TensorDesc hy, workspace;  // outputs: [B, H], [B, 5H]: r, z, n, hx, hidden n gate
};

struct GruCellBackward {
  static constexpr const char* name = "gru_cell_backward";
  TensorDesc grad_hy, workspace;
  TensorDesc grad_input_gates, grad_hidden_gates, grad_hx;  // outputs
};

// One LSTM layer in one direction over a whole sequence, as cuDNN and oneDNN run it: a single GEMM
// for the input projections of every step, then per step one small GEMM with the recurrent
// weights and the fused cell, all in one unit of work (no per-step launches). PyTorch's gate order
// (i, f, g, o). float32 and float64; every operand contiguous and of one dtype.
struct LstmLayer {
  TensorDesc input;                      // [T, B, I]
  TensorDesc w_ih, w_hh;                 // [4H, I], [4H, H]
  std::optional<TensorDesc> b_ih, b_hh;  // [4H]
  TensorDesc h0, c0;                     // [B, H]
  bool reverse = false;                  // steps run from T - 1 down to 0
  // For a float32 layer, Float16 or BFloat16: the matrix products may round their operands to it
  // and accumulate in float32 (autocast's precision), where the device has faster 16-bit matrix
  // units; the cell and the state stay float32. Float32: float32 products.
  DType products = DType::Float32;
};

// What the forward pass writes, and the backward pass reads back.
struct LstmSequence {
  TensorDesc output;  // [T, B, H]: h after every step
  TensorDesc hy, cy;  // [B, H]: the state after the last step
  TensorDesc gates;   // [T, B, 4H]: activated i, f, g, o of every step
  TensorDesc cells;   // [T, B, H]: c after every step
};

struct LstmLayerGrads {
  std::optional<TensorDesc> grad_output;  // [T, B, H]; absent: no gradient
  std::optional<TensorDesc> grad_hy;      // [B, H]; absent: no gradient
  std::optional<TensorDesc> grad_cy;
  TensorDesc grad_gates;            // [T, B, 4H], scratch
  TensorDesc grad_input;            // [T, B, I]
  TensorDesc grad_h0, grad_c0;      // [B, H]
  TensorDesc grad_w_ih, grad_w_hh;  // [4H, I], [4H, H]
  TensorDesc grad_bias;             // [4H]: the gradient of either bias
};

struct LstmLayerForward {
  static constexpr const char* name = "lstm_layer";
  LstmLayer layer;
  LstmSequence sequence;
};

// Reads the sequence's output, gates and cells.
struct LstmLayerBackward {
  static constexpr const char* name = "lstm_layer_backward";
  LstmLayer layer;
  LstmSequence sequence;
  LstmLayerGrads grads;
};

void enqueue(Queue* queue, const LstmCell& op);
void enqueue(Queue* queue, const LstmCellBackward& op);
void enqueue(Queue* queue, const GruCell& op);
void enqueue(Queue* queue, const GruCellBackward& op);
void enqueue(Queue* queue, const LstmLayerForward& op);
void enqueue(Queue* queue, const LstmLayerBackward& op);

}  // namespace mlu::hal
