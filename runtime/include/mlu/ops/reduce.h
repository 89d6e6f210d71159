// Reductions over a set of dims, and operations along one dim that track positions
// (arg-reductions, cumulative sums, sorting). Reduction outputs have the input's ndim (the
// keepdim shape): size 1 in each reduced dim, the input's size in every other. float16 and
// bfloat16 compute in float32; sums of floating types use pairwise/cascade summation in their
// compute type, as PyTorch CPU does; integer sums and products accumulate in int64.
#pragma once

#include <cstdint>
#include <optional>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

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
struct Reduce {
  static constexpr const char* name = "reduce";
  ReduceOp op;
  TensorDesc out, in;
  double param = 1;
};

// var = sum((x - mean)^2) / max(0, count - correction), its square root when take_sqrt, and the
// mean when mean is given; accumulates in float64 (Welford), as PyTorch CPU does.
struct VarMean {
  static constexpr const char* name = "var_mean";
  TensorDesc var;
  std::optional<TensorDesc> mean;
  TensorDesc in;
  double correction;
  bool take_sqrt;
};

// The first position of the maximum (or minimum) along dim, NaN counting as the maximum (and
// the minimum), into int64 indices, and its value into values when given. Outputs have in's
// ndim with size 1 in dim; values has in's dtype. dim must not be empty.
struct ArgReduce {
  static constexpr const char* name = "arg_reduce";
  bool is_max;
  std::optional<TensorDesc> values;
  TensorDesc indices, in;
  int dim;
};

// out = cumulative sum of in along dim; out and in share shape and dtype and may alias.
// Floating types accumulate in float64 and integers in int64, as PyTorch CPU does.
struct Cumsum {
  static constexpr const char* name = "cumsum";
  TensorDesc out, in;
  int dim;
};
// The same for the cumulative product.
struct Cumprod {
  static constexpr const char* name = "cumprod";
  TensorDesc out, in;
  int dim;
};

// Stable sort along dim, NaN after every number when ascending (before when descending).
// values has in's shape and dtype, indices is int64 of that shape.
struct Sort {
  static constexpr const char* name = "sort";
  TensorDesc values, indices, in;
  int dim;
  bool descending;
};

// The k largest (or smallest) elements along dim, in sorted order (ties by position), NaN
// counting as the largest. values and indices have in's shape with size k in dim.
struct Topk {
  static constexpr const char* name = "topk";
  TensorDesc values, indices, in;
  int dim;
  std::int64_t k;
  bool largest;
};

void enqueue(Queue* queue, const Reduce& op);
void enqueue(Queue* queue, const VarMean& op);
void enqueue(Queue* queue, const ArgReduce& op);
void enqueue(Queue* queue, const Cumsum& op);
void enqueue(Queue* queue, const Cumprod& op);
void enqueue(Queue* queue, const Sort& op);
void enqueue(Queue* queue, const Topk& op);

}  // namespace mlu::hal
