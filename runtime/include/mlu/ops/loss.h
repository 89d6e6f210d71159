// Loss functions, and connectionist temporal classification (PyTorch's _ctc_loss and its
// backward). Reductions accumulate in float64; float16 and bfloat16 compute in float32.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

enum class Reduction { None = 0, Mean = 1, Sum = 2 };  // PyTorch's at::Reduction values

// Negative log-likelihood. input is [C], [N, C] or [N, C, d1, ...]; target (int64 or uint8) has
// input's shape without the class dim; weight, when given, is [C]. out has target's shape for
// Reduction::None with a batch dim and is 0-d otherwise; total_weight is 0-d, of input's dtype.
// A target outside [0, C) other than ignore_index fails with "Target t is out of bounds.".
struct NllLoss {
  static constexpr const char* name = "nll_loss";
  TensorDesc out, total_weight, input, target;
  std::optional<TensorDesc> weight;
  Reduction reduction;
  std::int64_t ignore_index;
};

// grad_input (input's shape) = -weight[t] * grad_output at each target class, 0 elsewhere;
// divided by total_weight for Reduction::Mean. grad_output has out's shape.
struct NllLossBackward {
  static constexpr const char* name = "nll_loss_backward";
  TensorDesc grad_input, grad_output, target;
  std::optional<TensorDesc> weight;
  Reduction reduction;
  std::int64_t ignore_index;
  TensorDesc total_weight;
};

// Elementwise loss, times weight when given (and with pos_weight scaling the positive term of
// BinaryCrossEntropyWithLogits), then reduced. target, weight and pos_weight have input's shape
// (zero strides for broadcasting); out has input's shape for Reduction::None and is 0-d
// otherwise. The losses share this layout and differ in their launch name: each derives from it.
struct ElementwiseLoss {
  TensorDesc out, input, target;
  std::optional<TensorDesc> weight, pos_weight;
  Reduction reduction;
  double param = 0;
};
struct MseLoss : ElementwiseLoss {
  static constexpr const char* name = "mse_loss";
};
struct SmoothL1Loss : ElementwiseLoss {  // param: beta
  static constexpr const char* name = "smooth_l1_loss";
};
struct HuberLoss : ElementwiseLoss {  // param: delta
  static constexpr const char* name = "huber_loss";
};
struct BinaryCrossEntropy : ElementwiseLoss {  // input in [0, 1]; logs clamped at -100
  static constexpr const char* name = "binary_cross_entropy";
};
struct BinaryCrossEntropyWithLogits : ElementwiseLoss {
  static constexpr const char* name = "binary_cross_entropy_with_logits";
};

// grad_input = d loss / d input * grad_output * scale (scale = 1/count for Reduction::Mean).
// grad_output, target and weight have input's shape (zero strides for broadcasting); param as in
// the forward loss. BinaryCrossEntropyWithLogits has none: its gradient is composed of
// elementwise operations.
struct ElementwiseLossBackward {
  TensorDesc grad_input, grad_output, input, target;
  std::optional<TensorDesc> weight;
  double scale;
  double param = 0;
};
struct MseLossBackward : ElementwiseLossBackward {
  static constexpr const char* name = "mse_loss_backward";
};
struct SmoothL1LossBackward : ElementwiseLossBackward {
  static constexpr const char* name = "smooth_l1_loss_backward";
};
struct HuberLossBackward : ElementwiseLossBackward {
  static constexpr const char* name = "huber_loss_backward";
};
struct BinaryCrossEntropyBackward : ElementwiseLossBackward {
  static constexpr const char* name = "binary_cross_entropy_backward";
};

// CTC: the alpha-beta recursions in log space, one sample per task.
struct Ctc {
  TensorDesc log_probs;  // [T, N, C], float32 or float64
  TensorDesc targets;    // int64: [N, S] padded, or 1-D with the samples' targets concatenated
  std::vector<std::int64_t> input_lengths, target_lengths;  // N each, checked by the caller
  std::int64_t blank = 0;
};

// neg_log_likelihood: [N]; log_alpha: contiguous [N, T, 2 * max target length + 1], kept for the
// backward pass (entries past a sample's lengths are -inf).
struct CtcLoss {
  static constexpr const char* name = "ctc_loss";
  Ctc ctc;
  TensorDesc neg_log_likelihood, log_alpha;
};

// grad: [T, N, C], the gradient of each sample's loss times grad_out[n] ([N]); zero past a
// sample's input length, and for samples of infinite loss when zero_infinity.
struct CtcLossBackward {
  static constexpr const char* name = "ctc_loss_backward";
  Ctc ctc;
  TensorDesc grad_out, neg_log_likelihood, log_alpha;
  bool zero_infinity;
  TensorDesc grad;
};

void enqueue(Queue* queue, const NllLoss& op);
void enqueue(Queue* queue, const NllLossBackward& op);
void enqueue(Queue* queue, const MseLoss& op);
void enqueue(Queue* queue, const SmoothL1Loss& op);
void enqueue(Queue* queue, const HuberLoss& op);
void enqueue(Queue* queue, const BinaryCrossEntropy& op);
void enqueue(Queue* queue, const BinaryCrossEntropyWithLogits& op);
void enqueue(Queue* queue, const MseLossBackward& op);
void enqueue(Queue* queue, const SmoothL1LossBackward& op);
void enqueue(Queue* queue, const HuberLossBackward& op);
void enqueue(Queue* queue, const BinaryCrossEntropyBackward& op);
void enqueue(Queue* queue, const CtcLoss& op);
void enqueue(Queue* queue, const CtcLossBackward& op);

}  // namespace mlu::hal
