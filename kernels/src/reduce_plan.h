// Traversal shared by reductions, scans, softmax and sorts: the dims of N operands are split into
// kept dims (iterated outside) and reduced dims (iterated inside), each sorted by operand 0's
// stride and coalesced. When the densest kept dim is denser than every reduced dim it becomes a
// vector of lanes, so that reducing over outer dims still reads memory in order.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "mlu_kernels/parallel.h"
#include "mlu_kernels/tensor_desc.h"
#include "scalar_types.h"

namespace mlu::kernels::reduce_detail {

template <typename T>
inline ComputeType<T> read(const char* p) {
  return convert<ComputeType<T>>(*reinterpret_cast<const T*>(p));
}

template <typename T, typename V>
inline void write(char* p, V v) {
  *reinterpret_cast<T*>(p) = convert<T>(v);
}

template <int N>
struct DimSet {
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<std::array<std::int64_t, kMaxDims>, N> strides{};  // in bytes
};

template <int N>
struct ReducePlan {
  DimSet<N> outer;    // kept dims, without the lane dim
  DimSet<N> reduced;  // innermost (smallest stride of operand 0) last
  std::int64_t lanes = 1;
  std::array<std::int64_t, N> lane_strides{};  // in bytes
  bool empty_reduction = false;                // a reduced dim has size 0

  std::int64_t reduced_numel() const {
    std::int64_t n = 1;
    for (int d = 0; d < reduced.ndim; ++d) n *= reduced.sizes[d];
    return n;
  }
};

template <int N>
void append_coalesced(DimSet<N>& set, std::int64_t size,
                      const std::array<std::int64_t, N>& strides) {
  if (set.ndim > 0) {
    bool mergeable = true;
    for (int k = 0; k < N && mergeable; ++k)
      mergeable = set.strides[k][set.ndim - 1] == strides[k] * size;
    if (mergeable) {
      set.sizes[set.ndim - 1] *= size;
      for (int k = 0; k < N; ++k) set.strides[k][set.ndim - 1] = strides[k];
      return;
    }
  }
  set.sizes[set.ndim] = size;
  for (int k = 0; k < N; ++k) set.strides[k][set.ndim] = strides[k];
  ++set.ndim;
}

// The shape is operand 0's; an operand with size 1 in a dim does not move along it (outputs of
// reductions keep the reduced dims with size 1).
template <int N>
ReducePlan<N> plan_reduction(const std::array<const TensorDesc*, N>& operands,
                             std::uint32_t reduced_mask, bool allow_lanes) {
  const TensorDesc& shape = *operands[0];
  struct Dim {
    std::int64_t size;
    std::array<std::int64_t, N> strides;
    bool reduced;
  };
  std::array<Dim, kMaxDims> dims;
  int count = 0;
  ReducePlan<N> plan;
  for (int d = 0; d < shape.ndim; ++d) {
    const bool reduced = (reduced_mask >> d) & 1u;
    if (shape.sizes[d] == 0 && reduced) plan.empty_reduction = true;
    if (shape.sizes[d] == 1) continue;
    Dim dim{shape.sizes[d], {}, reduced};
    for (int k = 0; k < N; ++k) {
      const TensorDesc& t = *operands[k];
      dim.strides[k] =
          t.sizes[d] == 1 ? 0 : t.strides[d] * static_cast<std::int64_t>(element_size(t.dtype));
    }
    dims[count++] = dim;
  }
  std::stable_sort(dims.begin(), dims.begin() + count, [](const Dim& a, const Dim& b) {
    return std::llabs(a.strides[0]) > std::llabs(b.strides[0]);
  });
  DimSet<N> kept;
  for (int i = 0; i < count; ++i)
    append_coalesced<N>(dims[i].reduced ? plan.reduced : kept, dims[i].size, dims[i].strides);
  plan.outer = kept;
  if (allow_lanes && kept.ndim > 0 && plan.reduced.ndim > 0) {
    const int lane = kept.ndim - 1;
    if (std::llabs(kept.strides[0][lane]) <
        std::llabs(plan.reduced.strides[0][plan.reduced.ndim - 1])) {
      plan.lanes = kept.sizes[lane];
      for (int k = 0; k < N; ++k) plan.lane_strides[k] = kept.strides[k][lane];
      plan.outer.ndim = lane;
    }
  }
  return plan;
}

// Calls f(pointers) for every index of the first ndim dims of set (an odometer), serially. Sizes
// must be positive.
template <int N, typename F>
void for_each_index(const DimSet<N>& set, int ndim, std::array<char*, N> ptr, F&& f) {
  std::array<std::int64_t, kMaxDims> index{};
  for (;;) {
    f(ptr);
    int d = ndim - 1;
    for (; d >= 0; --d) {
      for (int k = 0; k < N; ++k) ptr[k] += set.strides[k][d];
      if (++index[d] < set.sizes[d]) break;
      for (int k = 0; k < N; ++k) ptr[k] -= set.strides[k][d] * set.sizes[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Calls f(pointers) for the indices [first, last) of set in row-major order.
template <int N, typename F>
void for_each_index_in(const DimSet<N>& set, std::array<char*, N> ptr, std::int64_t first,
                       std::int64_t last, F&& f) {
  std::array<std::int64_t, kMaxDims> index{};
  std::int64_t rest = first;
  for (int d = set.ndim - 1; d >= 0; --d) {
    index[d] = rest % set.sizes[d];
    rest /= set.sizes[d];
    for (int k = 0; k < N; ++k) ptr[k] += index[d] * set.strides[k][d];
  }
  for (std::int64_t i = first; i < last; ++i) {
    f(ptr);
    for (int d = set.ndim - 1; d >= 0; --d) {  // advance like an odometer
      for (int k = 0; k < N; ++k) ptr[k] += set.strides[k][d];
      if (++index[d] < set.sizes[d]) break;
      for (int k = 0; k < N; ++k) ptr[k] -= set.strides[k][d] * set.sizes[d];
      index[d] = 0;
    }
  }
}

// Runs the indices of set in parallel chunks of at least kParallelGrain / work_per_index
// indices. Each chunk calls chunk(each) once, so it can set up its own scratch space, and
// each(f) calls f(pointers) for the chunk's indices. Every index is handled by one thread in the
// same order as serially: results do not depend on the thread count.
template <int N, typename Chunk>
void for_each_index_parallel(const DimSet<N>& set, std::array<char*, N> base,
                             std::int64_t work_per_index, Chunk&& chunk) {
  std::int64_t count = 1;
  for (int d = 0; d < set.ndim; ++d) count *= set.sizes[d];
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, work_per_index));
  parallel_for(count, grain, [&](std::int64_t first, std::int64_t last) {
    chunk([&](auto&& f) { for_each_index_in<N>(set, base, first, last, f); });
  });
}

// The dims of set as seen by operand k alone.
template <int N>
DimSet<1> operand_dims(const DimSet<N>& set, int k) {
  DimSet<1> one;
  one.ndim = set.ndim;
  one.sizes = set.sizes;
  one.strides[0] = set.strides[k];
  return one;
}

template <int N>
std::array<char*, N> at_lane(std::array<char*, N> ptr,
                             const std::array<std::int64_t, N>& lane_strides, std::int64_t lane) {
  for (int k = 0; k < N; ++k) ptr[k] += lane * lane_strides[k];
  return ptr;
}

template <int N>
std::array<char*, N> data_pointers(const std::array<const TensorDesc*, N>& operands) {
  std::array<char*, N> ptr;
  for (int k = 0; k < N; ++k) ptr[k] = static_cast<char*>(operands[k]->data);
  return ptr;
}

// The single reduced dim of plans reducing one dim: its size and operand strides (size 1 and
// stride 0 when the dim was dropped for having size 1).
template <int N>
struct Row {
  std::int64_t size = 1;
  std::array<std::int64_t, N> strides{};
};

template <int N>
Row<N> single_reduced_dim(const ReducePlan<N>& plan) {
  Row<N> row;
  if (plan.reduced.ndim == 1) {
    row.size = plan.reduced.sizes[0];
    for (int k = 0; k < N; ++k) row.strides[k] = plan.reduced.strides[k][0];
  }
  return row;
}

// Validates a keepdim-shaped output: in's ndim, each size either in's or 1 (reduced). Returns
// the mask of reduced dims.
std::uint32_t reduced_dims_of(const TensorDesc& out, const TensorDesc& in, const char* kernel);

}  // namespace mlu::kernels::reduce_detail
