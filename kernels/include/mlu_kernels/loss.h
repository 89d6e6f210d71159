// Loss functions (the semantics are those of mlu/ops/loss.h). Reductions accumulate in float64;
// float16 and bfloat16 compute in float32.
#pragma once

#include <cstdint>

#include "mlu/ops/loss.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// Negative log-likelihood. input is [C], [N, C] or [N, C, d1, ...]; target (int64 or uint8) has
// input's shape without the class dim; weight, when given, is [C]. out has target's shape for
// Reduction::None with a batch dim and is 0-d otherwise; total_weight is 0-d, of input's dtype.
// A target outside [0, C) other than ignore_index fails with "Target t is out of bounds.".
void nll_loss(const TensorDesc& out, const TensorDesc& total_weight, const TensorDesc& input,
              const TensorDesc& target, const TensorDesc* weight, Reduction reduction,
              std::int64_t ignore_index);

// grad_input (input's shape) = -weight[t] * grad_output at each target class, 0 elsewhere;
// divided by total_weight for Reduction::Mean. grad_output has out's shape.
void nll_loss_backward(const TensorDesc& grad_input, const TensorDesc& grad_output,
                       const TensorDesc& target, const TensorDesc* weight, Reduction reduction,
                       std::int64_t ignore_index, const TensorDesc& total_weight);

// The elementwise losses of the contract (MseLoss, SmoothL1Loss, ...), by kind.
enum class PointwiseLoss {
  Mse,
  SmoothL1,            // param: beta
  Huber,               // param: delta
  BinaryCrossEntropy,  // input in [0, 1]; logs clamped at -100
  BinaryCrossEntropyWithLogits,
};

// Elementwise loss, times weight when given (and with pos_weight scaling the positive term of
// BinaryCrossEntropyWithLogits), then reduced. target, weight and pos_weight have input's shape
// (zero strides for broadcasting); out has input's shape for Reduction::None and is 0-d otherwise.
void pointwise_loss(PointwiseLoss loss, const TensorDesc& out, const TensorDesc& input,
                    const TensorDesc& target, const TensorDesc* weight,
                    const TensorDesc* pos_weight, Reduction reduction, double param);

// grad_input = d loss / d input * grad_output * scale (scale = 1/count for Reduction::Mean).
// grad_output, target and weight have input's shape (zero strides for broadcasting).
// BinaryCrossEntropyWithLogits has no kernel here: its gradient is composed of elementwise ops.
void pointwise_loss_backward(PointwiseLoss loss, const TensorDesc& grad_input,
                             const TensorDesc& grad_output, const TensorDesc& input,
                             const TensorDesc& target, const TensorDesc* weight, double scale,
                             double param);

}  // namespace mlu::kernels
