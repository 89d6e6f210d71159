// Loss kernels: the implementation of mlu/ops/loss.h's operations (CTC's are in
// mlu_kernels/ctc.h).
#pragma once

#include <cstdint>

#include "mlu/ops/loss.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// weight may be null. A target out of bounds throws KernelError.
void nll_loss(const TensorDesc& out, const TensorDesc& total_weight, const TensorDesc& input,
              const TensorDesc& target, const TensorDesc* weight, Reduction reduction,
              std::int64_t ignore_index);

void nll_loss_backward(const TensorDesc& grad_input, const TensorDesc& grad_output,
                       const TensorDesc& target, const TensorDesc* weight, Reduction reduction,
                       std::int64_t ignore_index, const TensorDesc& total_weight);

// The elementwise losses of the contract (MseLoss, SmoothL1Loss, ...), by kind.
enum class PointwiseLoss {
  Mse,
  SmoothL1,
  Huber,
  BinaryCrossEntropy,
  BinaryCrossEntropyWithLogits,
};

// weight and pos_weight may be null.
void pointwise_loss(PointwiseLoss loss, const TensorDesc& out, const TensorDesc& input,
                    const TensorDesc& target, const TensorDesc* weight,
                    const TensorDesc* pos_weight, Reduction reduction, double param);

// weight may be null. BinaryCrossEntropyWithLogits throws KernelError: it has no backward.
void pointwise_loss_backward(PointwiseLoss loss, const TensorDesc& grad_input,
                             const TensorDesc& grad_output, const TensorDesc& input,
                             const TensorDesc& target, const TensorDesc* weight, double scale,
                             double param);

}  // namespace mlu::kernels
