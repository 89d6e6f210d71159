// Normalisations: batch norm, layer norm and group norm, forward and backward (mlu/ops/norm.h).
#pragma once

#include "mlu/ops/norm.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void batch_norm(const TensorDesc& out, const TensorDesc& in, const BatchNormVectors& v,
                bool training, double momentum, double eps);

// Writes the gradients that are not null.
void batch_norm_backward(const TensorDesc* grad_in, const TensorDesc* grad_weight,
                         const TensorDesc* grad_bias, const TensorDesc& grad_out,
                         const TensorDesc& in, const BatchNormVectors& v, bool training,
                         double eps);

void row_norm(const RowNorm& n, const TensorDesc& out, const TensorDesc& in, const TensorDesc& mean,
              const TensorDesc& rstd, double eps);

// Writes the gradients that are not null.
void row_norm_backward(const RowNorm& n, const TensorDesc* grad_in, const TensorDesc* grad_weight,
                       const TensorDesc* grad_bias, const TensorDesc& grad_out,
                       const TensorDesc& in, const TensorDesc& mean, const TensorDesc& rstd);

}  // namespace mlu::kernels
