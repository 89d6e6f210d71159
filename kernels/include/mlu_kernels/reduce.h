// Reductions over a set of dims (the semantics are those of mlu/ops/reduce.h).
#pragma once

#include "mlu/ops/reduce.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out has in's dtype except for Any and All. An empty reduction gives the identity (0 for Sum
// and Norm, 1 for Prod, -inf for LogSumExp); Max, Min and the infinite norms need elements.
void reduce(ReduceOp op, const TensorDesc& out, const TensorDesc& in, double param = 1);

// var = sum((x - mean)^2) / max(0, count - correction), its square root when take_sqrt, and the
// mean when mean is given; accumulates in float64 (Welford), as PyTorch CPU does.
void var_mean(const TensorDesc& var, const TensorDesc* mean, const TensorDesc& in,
              double correction, bool take_sqrt);

}  // namespace mlu::kernels
