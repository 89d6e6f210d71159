// Indexing operations: every gather-like operator (index_select, gather, take, advanced indexing)
// is an IndexGather and every scatter-like one (scatter, scatter_add, index_add, index_put, ...)
// an IndexScatter, after the caller has described the data tensor with the iteration shape. The
// operators share these layouts and differ in their launch name (what profilers show): each
// derives from its layout and adds only the name.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mlu/ops/operand.h"

namespace mlu::hal {

// One index tensor: Int64 values broadcast to the iteration shape (zero strides where it does
// not vary), selecting along one dimension of the data tensor.
struct IndexOperand {
  TensorDesc index;
  std::int64_t size = 0;    // extent of the indexed dimension, for the bounds check
  std::int64_t stride = 0;  // its stride in the data tensor, in elements
  int dim = 0;              // the dimension, for error messages
};

// Whether negative indices count from the end (advanced indexing) or are out of bounds.
enum class NegativeIndices { Wrap, Reject };

enum class ScatterReduce { Assign, Add, Multiply, Maximum, Minimum };

// out[i] = src[i + sum_k index_k[i] * stride_k]. src is described with out's shape, its indexed
// dimensions having stride 0. An out-of-range index is an error naming it.
struct IndexGather {
  TensorDesc out, src;
  std::vector<IndexOperand> indices;
  NegativeIndices negative;
};
struct Index : IndexGather {
  static constexpr const char* name = "index";
};
struct IndexSelect : IndexGather {
  static constexpr const char* name = "index_select";
};
struct Gather : IndexGather {
  static constexpr const char* name = "gather";
};
struct Take : IndexGather {
  static constexpr const char* name = "take";
};

// dst[i + sum_k index_k[i] * stride_k] (reduce)= values[i]: dst is described with the iteration
// shape (indexed dimensions of stride 0) and values (a tensor, or a host value with zero strides)
// has it too. Duplicate indices combine in iteration order, so results are deterministic. Add
// computes dst + alpha * value. With initial, the indexed places are first assigned initial
// (scatter_reduce without include_self: the reduction's identity).
struct IndexScatter {
  TensorDesc dst;
  Operand values;
  std::vector<IndexOperand> indices;
  NegativeIndices negative;
  ScatterReduce reduce;
  double alpha = 1;
  std::optional<Operand> initial;
};
struct IndexPut : IndexScatter {
  static constexpr const char* name = "index_put";
};
struct IndexAdd : IndexScatter {
  static constexpr const char* name = "index_add";
};
struct IndexCopy : IndexScatter {
  static constexpr const char* name = "index_copy";
};
struct IndexFill : IndexScatter {
  static constexpr const char* name = "index_fill";
};
struct Scatter : IndexScatter {
  static constexpr const char* name = "scatter";
};
struct ScatterAdd : IndexScatter {
  static constexpr const char* name = "scatter_add";
};
struct ScatterReduction : IndexScatter {
  static constexpr const char* name = "scatter_reduce";
};

// scatter_reduce's mean, after the sums were scattered into out: count (out's shape and dtype,
// holding 1 with include_self and 0 without) is increased by one (a host value 1 of out's dtype)
// at every place index selects (negative indices rejected), then out /= max(count, 1), rounded
// down for integral dtypes. count_indexed is count described with the iteration shape, the
// indexed dimension of stride 0.
struct ScatterMean {
  static constexpr const char* name = "scatter_reduce";
  TensorDesc out, count, count_indexed;
  IndexOperand index;
  Operand one;
};

// self = mask ? value : self; mask is bool of self's shape, value has self's dtype and shape
// (a host value with zero strides, or a broadcast 0-d device tensor).
struct MaskedFill {
  static constexpr const char* name = "masked_fill";
  TensorDesc self, mask;
  Operand value;
};

// The elements of dst where mask (bool, dst's shape) is true, in row-major order, take the
// consecutive elements of source (1-D, dst's dtype); too short a source is an error.
struct MaskedScatter {
  static constexpr const char* name = "masked_scatter";
  TensorDesc dst, mask, source;
};

// The row-major coordinates of in's nonzero elements (NaN counts as nonzero), one row each, in
// row-major order: out is a contiguous int64 [count, in.ndim] matrix with exactly one row per
// nonzero element (the caller counted them).
struct Nonzero {
  static constexpr const char* name = "nonzero";
  TensorDesc out, in;
};

void enqueue(Queue* queue, const Index& op);
void enqueue(Queue* queue, const IndexSelect& op);
void enqueue(Queue* queue, const Gather& op);
void enqueue(Queue* queue, const Take& op);
void enqueue(Queue* queue, const IndexPut& op);
void enqueue(Queue* queue, const IndexAdd& op);
void enqueue(Queue* queue, const IndexCopy& op);
void enqueue(Queue* queue, const IndexFill& op);
void enqueue(Queue* queue, const Scatter& op);
void enqueue(Queue* queue, const ScatterAdd& op);
void enqueue(Queue* queue, const ScatterReduction& op);
void enqueue(Queue* queue, const ScatterMean& op);
void enqueue(Queue* queue, const MaskedFill& op);
void enqueue(Queue* queue, const MaskedScatter& op);
void enqueue(Queue* queue, const Nonzero& op);

}  // namespace mlu::hal
