// Matrix products, and the epilogue they apply to each block of their result while it is still in
// cache: the fusion of linear + bias + activation (and, with the same activations, of conv + bias
// + relu in mlu/ops/conv.h).
#pragma once

#include <cstdint>
#include <optional>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

enum class Activation : std::uint8_t { None, Relu, Gelu, GeluTanh, Silu };

// What a product does to each block of its result right after computing it. Floating dtypes only.
struct GemmEpilogue {
  std::optional<TensorDesc> bias;  // [n] (or [1, n]), times bias_scale, added to every row
  double bias_scale = 1;
  // out's shape: receives the value before the activation (what gelu's and silu's gradients need).
  std::optional<TensorDesc> pre_activation;
  Activation activation = Activation::None;

  bool empty() const { return !bias && !pre_activation && activation == Activation::None; }
};

// out[i] = beta * out[i] + alpha * a[i] @ b[i] for 2-D operands (one product) or 3-D operands
// (a batch). Each matrix needs a unit stride in one of its two dims; out needs a unit column
// stride. With beta == 0 out is only written. float16 and bfloat16 compute in float32. Then the
// epilogue: out = activation(out + bias_scale * bias).
struct Gemm {
  static constexpr const char* name = "gemm";
  TensorDesc out, a, b;
  double alpha = 1, beta = 0;
  GemmEpilogue epilogue;
};

// torch_mlu::linear_act: out = activation(a @ b + bias), a Gemm with alpha 1 and beta 0 under the
// fused operator's name.
struct LinearAct {
  static constexpr const char* name = "linear_act";
  TensorDesc out, a, b;
  GemmEpilogue epilogue;
};

void enqueue(Queue* queue, const Gemm& op);
void enqueue(Queue* queue, const LinearAct& op);

}  // namespace mlu::hal
