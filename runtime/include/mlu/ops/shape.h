// Operations of shape operators that move data, and factories whose values follow from the
// position.
#pragma once

#include <cstdint>
#include <vector>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// out = inputs concatenated along dim: every input has out's shape except in dim, where their
// extents sum to out's. Inputs of other dtypes are converted.
struct Cat {
  static constexpr const char* name = "cat";
  TensorDesc out;
  std::vector<TensorDesc> inputs;
  int dim;
};

// tril or triu over the last two dims: out[..., i, j] = in[..., i, j] where j - i <= diagonal
// (tril) or j - i >= diagonal (triu), else 0. out may be in.
struct Triangle {
  TensorDesc out, in;
  std::int64_t diagonal;
};
struct Tril : Triangle {
  static constexpr const char* name = "tril";
};
struct Triu : Triangle {
  static constexpr const char* name = "triu";
};

// The coordinates of tril or triu of a matrix with col columns and the given diagonal offset, row
// by row: out is [2, n] (Int32 or Int64), rows then columns, n the triangle's size (which the
// number of rows bounds).
struct TriangleIndices {
  TensorDesc out;
  std::int64_t col, offset;
};
struct TrilIndices : TriangleIndices {
  static constexpr const char* name = "tril_indices";
};
struct TriuIndices : TriangleIndices {
  static constexpr const char* name = "triu_indices";
};

// out (1-D, any strides)[i] = start + i * step: in double and converted for floating dtypes, in
// int64 arithmetic for integral ones.
struct Arange {
  static constexpr const char* name = "arange";
  TensorDesc out;
  double start, step;
};
struct ArangeIntegral {
  static constexpr const char* name = "arange";
  TensorDesc out;
  std::int64_t start, step;
};

// n = out's length >= 2 points from start to end: start + i * step for the first half and
// end - (n - 1 - i) * step for the second, step = (end - start) / (n - 1), as PyTorch computes
// them (in the dtype, float32 for the 16-bit floats, double for integral dtypes).
struct Linspace {
  static constexpr const char* name = "linspace";
  TensorDesc out;
  double start, end;
};

// out[i] = base ** e_i with e_i the linspace from start to end, exponents in double, as
// PyTorch's CPU kernel computes them.
struct Logspace {
  static constexpr const char* name = "logspace";
  TensorDesc out;
  double start, end, base;
};

void enqueue(Queue* queue, const Cat& op);
void enqueue(Queue* queue, const Tril& op);
void enqueue(Queue* queue, const Triu& op);
void enqueue(Queue* queue, const TrilIndices& op);
void enqueue(Queue* queue, const TriuIndices& op);
void enqueue(Queue* queue, const Arange& op);
void enqueue(Queue* queue, const ArangeIntegral& op);
void enqueue(Queue* queue, const Linspace& op);
void enqueue(Queue* queue, const Logspace& op);

}  // namespace mlu::hal
