// Scaled dot-product attention as a tiled, flash-style kernel: the score matrix is never stored
// whole; forward keeps a running max and sum per query row and saves logsumexp for backward.
#pragma once

#include <optional>

#include "mlu/ops/random.h"

namespace mlu::hal {

// Operands are [batch, heads, length, features] of one dtype (float32, float16 or bfloat16,
// computed in float32) with unit feature stride and any other strides; logsumexp is float32.
// Causal masking keeps key j for query i when j <= i (PyTorch's top-left alignment).
// A query that may attend to no key gets zeros (and logsumexp -inf).
struct Attention {
  TensorDesc q, k, v;
  TensorDesc out;        // [B, H, Lq, Ev]
  TensorDesc logsumexp;  // [B, H, Lq], contiguous
  // Absent when ndim is 0. [B, H, Lq, Lk] with any strides (zero where broadcast): float32 added
  // to the scaled scores, or bool, true where a query may attend to the key.
  TensorDesc mask;
  float scale = 1;
  bool causal = false;
  // Dropout of the attention weights: weight (b, h, i, j) is kept, scaled by 1 / (1 - dropout),
  // when Philox word ((b * H + h) * Lq + i) * Lk + j of `rng` (four words per counter value) is
  // below (1 - dropout) * 2^32, as Dropout draws; backward draws the same. The operations below
  // set rng where they run.
  float dropout = 0;
  PhiloxState rng;
};

// With dropout, seed and offset (int64 device scalars) are present: the state resolved from
// philox where the work runs is written to them for the backward, so that a captured graph's
// replays each draw anew and each replay's backward draws what its forward drew.
struct AttentionForward {
  static constexpr const char* name = "attention";
  Attention attention;
  RandomRange philox;
  std::optional<TensorDesc> seed, offset;
};

// grad_q, grad_k, grad_v: contiguous, shaped like q, k, v. attention.out and attention.logsumexp
// are the forward's; with dropout, seed and offset are the forward's, read where the work runs.
struct AttentionBackward {
  static constexpr const char* name = "attention_backward";
  Attention attention;
  TensorDesc grad_out, grad_q, grad_k, grad_v;
  std::optional<TensorDesc> seed, offset;  // with dropout
};

void enqueue(Queue* queue, const AttentionForward& op);
void enqueue(Queue* queue, const AttentionBackward& op);

}  // namespace mlu::hal
