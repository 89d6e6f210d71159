// Softmax and log-softmax along one dim, and their gradients (mlu/ops/softmax.h).
#pragma once

#include "mlu/ops/softmax.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void softmax(const TensorDesc& out, const TensorDesc& in, int dim, bool log);

void softmax_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                      const TensorDesc& output, int dim, bool log);

}  // namespace mlu::kernels
