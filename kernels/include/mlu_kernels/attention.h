// Scaled dot-product attention as a tiled, flash-style kernel: the score matrix is never stored
// whole; forward keeps a running max and sum per query row and saves logsumexp for backward.
#pragma once

#include "mlu_kernels/random.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// Operands are float32 [batch, heads, length, features] with unit feature stride and any other
// strides. Causal masking keeps key j for query i when j <= i (PyTorch's top-left alignment).
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
  // below (1 - dropout) * 2^32, as the library's dropout draws; backward draws the same.
  float dropout = 0;
  PhiloxState rng;
};

void attention_forward(const Attention& a);

// grad_q, grad_k, grad_v: contiguous, shaped like q, k, v. a.out and a.logsumexp are the forward's.
void attention_backward(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                        const TensorDesc& grad_k, const TensorDesc& grad_v);

}  // namespace mlu::kernels
