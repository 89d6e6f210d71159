// Softmax and log-softmax along one dim: per row the maximum, the sum of exp(x - max), then the
// normalised outputs. float16 and bfloat16 compute in float32.
#pragma once

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// out has in's shape and in's dtype, or float32 for a float16/bfloat16 input.
struct Softmax {
  static constexpr const char* name = "softmax";
  TensorDesc out, in;
  int dim;
};
struct LogSoftmax {
  static constexpr const char* name = "log_softmax";
  TensorDesc out, in;
  int dim;
};

// From the forward's output y and the incoming gradient g: grad_in = y * (g - sum(g * y)) for
// softmax, g - exp(y) * sum(g) for log-softmax. grad_out and output share a dtype; grad_in has
// it or, when they are float32, float16/bfloat16.
struct SoftmaxBackward {
  static constexpr const char* name = "softmax_backward";
  TensorDesc grad_in, grad_out, output;
  int dim;
};
struct LogSoftmaxBackward {
  static constexpr const char* name = "log_softmax_backward";
  TensorDesc grad_in, grad_out, output;
  int dim;
};

void enqueue(Queue* queue, const Softmax& op);
void enqueue(Queue* queue, const LogSoftmax& op);
void enqueue(Queue* queue, const SoftmaxBackward& op);
void enqueue(Queue* queue, const LogSoftmaxBackward& op);

}  // namespace mlu::hal
