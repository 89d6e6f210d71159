// Connectionist temporal classification loss (PyTorch's _ctc_loss and its backward): the
// alpha-beta recursions in log space, one sample per task. Ctc is the contract's
// (mlu/ops/loss.h).
#pragma once

#include "mlu/ops/loss.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// neg_log_likelihood: [N]; log_alpha: contiguous [N, T, 2 * max target length + 1], kept for the
// backward pass (entries past a sample's lengths are -inf).
void ctc_loss(const Ctc& ctc, const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha);

// grad: [T, N, C], the gradient of each sample's loss times grad_out[n] ([N]); zero past a
// sample's input length, and for samples of infinite loss when zero_infinity.
void ctc_loss_backward(const Ctc& ctc, const TensorDesc& grad_out,
                       const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha,
                       bool zero_infinity, const TensorDesc& grad);

}  // namespace mlu::kernels
