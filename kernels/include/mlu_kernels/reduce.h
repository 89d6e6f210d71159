// Reduction kernels: the implementation of mlu/ops/reduce.h's Reduce and VarMean.
#pragma once

#include "mlu/ops/reduce.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void reduce(ReduceOp op, const TensorDesc& out, const TensorDesc& in, double param = 1);

// mean may be null.
void var_mean(const TensorDesc& var, const TensorDesc* mean, const TensorDesc& in,
              double correction, bool take_sqrt);

}  // namespace mlu::kernels
