// CTC loss kernels: the implementation of mlu/ops/loss.h's CtcLoss and CtcLossBackward.
#pragma once

#include "mlu/ops/loss.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void ctc_loss(const Ctc& ctc, const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha);

void ctc_loss_backward(const Ctc& ctc, const TensorDesc& grad_out,
                       const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha,
                       bool zero_infinity, const TensorDesc& grad);

}  // namespace mlu::kernels
