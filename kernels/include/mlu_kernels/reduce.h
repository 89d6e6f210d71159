// Reductions over a set of dims. Outputs have the input's ndim (the keepdim shape): size 1 in
// each reduced dim, the input's size in every other. float16 and bfloat16 compute in float32;
// sums of floating types use pairwise/cascade summation in their compute type, as PyTorch CPU
// does; integer sums and products accumulate in int64.
#pragma once

#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

enum class ReduceOp {
  Sum,     // scaled by param: 1 for sum, 1/count for mean
  NanSum,  // sum with NaN counted as 0
  Prod,
  Max,        // NaN propagates
  Min,        // NaN propagates
  Any,        // out is bool or uint8
  All,        // out is bool or uint8
  Norm,       // vector p-norm with p = param (0, inf and -inf included); floating types
  LogSumExp,  // floating types
};

// out has in's dtype except for Any and All. An empty reduction gives the identity (0 for Sum
// and Norm, 1 for Prod, -inf for LogSumExp); Max, Min and the infinite norms need elements.
void reduce(ReduceOp op, const TensorDesc& out, const TensorDesc& in, double param = 1);

// var = sum((x - mean)^2) / max(0, count - correction), its square root when take_sqrt, and the
// mean when mean is given; accumulates in float64 (Welford), as PyTorch CPU does.
void var_mean(const TensorDesc& var, const TensorDesc* mean, const TensorDesc& in,
              double correction, bool take_sqrt);

}  // namespace mlu::kernels
