#include "mlu_kernels/reduce_index.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "reduce_plan.h"
#include "strided_loop.h"

namespace mlu::kernels {
namespace {

using namespace reduce_detail;

void check_dim(const TensorDesc& in, int dim, const char* kernel) {
  if (dim < 0 || dim >= std::max(in.ndim, 1) || (in.ndim == 0 && dim != 0)) {
    throw KernelError(std::string(kernel) + ": dim " + std::to_string(dim) + " is out of range");
  }
}

void check_shape_along(const TensorDesc& out, const TensorDesc& in, int dim, std::int64_t size,
                       const char* kernel) {
  bool ok = out.ndim == in.ndim;
  for (int d = 0; ok && d < in.ndim; ++d) ok = out.sizes[d] == (d == dim ? size : in.sizes[d]);
  if (!ok) throw KernelError(std::string(kernel) + ": output shape does not match the input");
}

// NaN is greater than every number.
template <typename C>
bool greater(C a, C b) {
  return a != a ? b == b : a > b;
}

template <typename C>
bool less(C a, C b) {
  return b != b ? a == a : a < b;
}

template <typename T, bool is_max>
void arg_reduce_typed(const TensorDesc* values, const TensorDesc& indices, const TensorDesc& in,
                      int dim) {
  using C = ComputeType<T>;
  // Without values, indices stands in for them in the plan and nothing is written there.
  const std::array<const TensorDesc*, 3> operands{&in, &indices, values ? values : &indices};
  const ReducePlan<3> plan = plan_reduction<3>(operands, 1u << dim, /*allow_lanes=*/true);
  const Row<3> row = single_reduced_dim(plan);
  const std::int64_t lanes = plan.lanes, lane_stride = plan.lane_strides[0];
  auto better = [](C x, C best) {
    return is_max ? greater(x, best) : (x != x ? best == best : x < best);
  };
  for_each_index_parallel<3>(
      plan.outer, data_pointers<3>(operands), row.size * lanes, [&](auto each) {
        const auto best = std::make_unique<C[]>(lanes);  // not a vector: C may be bool
        std::vector<std::int64_t> position(lanes);
        each([&](auto p) {
          for (std::int64_t j = 0; j < lanes; ++j) {
            best[j] = read<T>(p[0] + j * lane_stride);
            position[j] = 0;
          }
          for (std::int64_t i = 1; i < row.size; ++i) {
            const char* q = p[0] + i * row.strides[0];
            for (std::int64_t j = 0; j < lanes; ++j) {
              const C x = read<T>(q + j * lane_stride);
              if (better(x, best[j])) {
                best[j] = x;
                position[j] = i;
              }
            }
          }
          for (std::int64_t j = 0; j < lanes; ++j) {
            const auto out = at_lane<3>(p, plan.lane_strides, j);
            write<std::int64_t>(out[1], position[j]);
            if (values) write<T>(out[2], best[j]);
          }
        });
      });
}

template <typename T, bool product>
void cumulative_typed(const TensorDesc& out, const TensorDesc& in, int dim) {
  using Acc = std::conditional_t<std::is_floating_point_v<ComputeType<T>>, double, std::int64_t>;
  const std::array<const TensorDesc*, 2> operands{&in, &out};
  const ReducePlan<2> plan = plan_reduction<2>(operands, 1u << dim, /*allow_lanes=*/true);
  const Row<2> row = single_reduced_dim(plan);
  for_each_index_parallel<2>(
      plan.outer, data_pointers<2>(operands), row.size * plan.lanes, [&](auto each) {
        std::vector<Acc> running(plan.lanes);
        each([&](auto p) {
          std::fill(running.begin(), running.end(), Acc(product ? 1 : 0));
          for (std::int64_t i = 0; i < row.size; ++i) {
            const char* x = p[0] + i * row.strides[0];
            char* y = p[1] + i * row.strides[1];
            for (std::int64_t j = 0; j < plan.lanes; ++j) {
              const Acc v = static_cast<Acc>(read<T>(x + j * plan.lane_strides[0]));
              running[j] = product ? running[j] * v : running[j] + v;
              write<T>(y + j * plan.lane_strides[1], running[j]);
            }
          }
        });
      });
}

// Rows along dim, {in, values, indices}: in walks the outputs' rows (its dim shrunk to the
// outputs' length) and is read whole, n elements at in_stride bytes.
struct SortRows {
  ReducePlan<3> plan;
  Row<3> out_row;
  std::int64_t n, in_stride;
  std::array<char*, 3> base;
};

SortRows sort_rows(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in,
                   int dim) {
  TensorDesc in_rows = in;
  if (in.ndim > 0) in_rows.sizes[dim] = values.ndim > 0 ? values.sizes[dim] : 1;
  const std::array<const TensorDesc*, 3> operands{&in_rows, &values, &indices};
  SortRows rows;
  rows.plan = plan_reduction<3>(operands, 1u << dim, /*allow_lanes=*/false);
  rows.out_row = single_reduced_dim(rows.plan);
  rows.n = in.ndim == 0 ? 1 : in.sizes[dim];
  rows.in_stride =
      in.ndim == 0 ? 0 : in.strides[dim] * static_cast<std::int64_t>(element_size(in.dtype));
  rows.base = data_pointers<3>(operands);
  return rows;
}

// Sorts (or partially sorts, for the first k) every row with before(keys, a, b) and writes the
// first k values and positions.
template <typename T, typename Before>
void sort_each_row(const SortRows& rows, std::int64_t k, bool stable, Before before) {
  using C = ComputeType<T>;
  const std::int64_t n = rows.n;
  const std::int64_t log_n =
      std::max<std::int64_t>(1, std::bit_width(static_cast<std::uint64_t>(n)));
  for_each_index_parallel<3>(rows.plan.outer, rows.base, n * log_n, [&](auto each) {
    std::vector<C> keys(n);
    std::vector<std::int64_t> order(n);
    auto compare = [&](std::int64_t a, std::int64_t b) { return before(keys, a, b); };
    each([&](auto p) {
      for (std::int64_t i = 0; i < n; ++i) keys[i] = read<T>(p[0] + i * rows.in_stride);
      std::iota(order.begin(), order.end(), 0);
      if (stable)
        std::stable_sort(order.begin(), order.end(), compare);
      else
        std::partial_sort(order.begin(), order.begin() + k, order.end(), compare);
      for (std::int64_t i = 0; i < k; ++i) {
        write<T>(p[1] + i * rows.out_row.strides[1], static_cast<C>(keys[order[i]]));
        write<std::int64_t>(p[2] + i * rows.out_row.strides[2], order[i]);
      }
    });
  });
}

template <typename T>
void sort_typed(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
                bool descending) {
  const SortRows rows = sort_rows(values, indices, in, dim);
  if (descending) {
    sort_each_row<T>(rows, rows.n, true,
                     [](const auto& keys, auto a, auto b) { return greater(keys[a], keys[b]); });
  } else {
    sort_each_row<T>(rows, rows.n, true,
                     [](const auto& keys, auto a, auto b) { return less(keys[a], keys[b]); });
  }
}

template <typename T>
void topk_typed(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
                std::int64_t k, bool largest) {
  // Ties go to the lower position, so the order is total and the result deterministic.
  sort_each_row<T>(sort_rows(values, indices, in, dim), k, false,
                   [largest](const auto& keys, auto a, auto b) {
                     const auto x = keys[a], y = keys[b];
                     if (largest ? greater(x, y) : less(x, y)) return true;
                     if (largest ? greater(y, x) : less(y, x)) return false;
                     return a < b;
                   });
}

template <bool product>
void cumulative(const TensorDesc& out, const TensorDesc& in, int dim, const char* kernel) {
  check_dim(in, dim, kernel);
  check_same_shape(out, in, kernel);
  if (out.dtype != in.dtype)
    throw KernelError(std::string(kernel) + ": out and input dtypes differ");
  if (out.numel() == 0) return;
  visit_dtype(in.dtype, [&](auto t) { cumulative_typed<decltype(t), product>(out, in, dim); });
}

}  // namespace

void arg_reduce(bool is_max, const TensorDesc* values, const TensorDesc& indices,
                const TensorDesc& in, int dim) {
  check_dim(in, dim, "arg_reduce");
  check_shape_along(indices, in, dim, 1, "arg_reduce");
  if (values) check_shape_along(*values, in, dim, 1, "arg_reduce");
  if (indices.dtype != DType::Int64 || (values && values->dtype != in.dtype)) {
    throw KernelError("arg_reduce: indices must be int64 and values of the input's dtype");
  }
  if (indices.numel() == 0) return;
  if (in.ndim > 0 && in.sizes[dim] == 0) throw KernelError("arg_reduce: the reduced dim is empty");
  visit_dtype(in.dtype, [&](auto t) {
    if (is_max)
      arg_reduce_typed<decltype(t), true>(values, indices, in, dim);
    else
      arg_reduce_typed<decltype(t), false>(values, indices, in, dim);
  });
}

void cumsum(const TensorDesc& out, const TensorDesc& in, int dim) {
  cumulative<false>(out, in, dim, "cumsum");
}
void cumprod(const TensorDesc& out, const TensorDesc& in, int dim) {
  cumulative<true>(out, in, dim, "cumprod");
}

void sort(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          bool descending) {
  check_dim(in, dim, "sort");
  check_same_shape(values, in, "sort");
  check_same_shape(indices, in, "sort");
  if (values.dtype != in.dtype || indices.dtype != DType::Int64) {
    throw KernelError("sort: values must have the input's dtype and indices be int64");
  }
  if (in.numel() == 0) return;
  visit_dtype(in.dtype,
              [&](auto t) { sort_typed<decltype(t)>(values, indices, in, dim, descending); });
}

void topk(const TensorDesc& values, const TensorDesc& indices, const TensorDesc& in, int dim,
          std::int64_t k, bool largest) {
  check_dim(in, dim, "topk");
  const std::int64_t n = in.ndim == 0 ? 1 : in.sizes[dim];
  if (k < 0 || k > n)
    throw KernelError("topk: k " + std::to_string(k) + " is out of range for a dim of size " +
                      std::to_string(n));
  check_shape_along(values, in, dim, k, "topk");
  check_shape_along(indices, in, dim, k, "topk");
  if (values.dtype != in.dtype || indices.dtype != DType::Int64) {
    throw KernelError("topk: values must have the input's dtype and indices be int64");
  }
  if (values.numel() == 0) return;
  visit_dtype(in.dtype,
              [&](auto t) { topk_typed<decltype(t)>(values, indices, in, dim, k, largest); });
}

}  // namespace mlu::kernels
