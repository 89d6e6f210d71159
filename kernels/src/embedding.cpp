#include "mlu_kernels/embedding.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "mlu_kernels/parallel.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

// A 2-D [rows, features] operand addressed by element.
template <typename T>
struct Matrix {
  char* data;
  std::int64_t rows, cols, row_stride, col_stride;  // strides in bytes

  explicit Matrix(const TensorDesc& d, const char* what)
      : data(static_cast<char*>(d.data)),
        rows(d.ndim == 2 ? d.sizes[0] : 0),
        cols(d.ndim == 2 ? d.sizes[1] : 0),
        row_stride(d.strides[0] * static_cast<std::int64_t>(sizeof(T))),
        col_stride(d.ndim == 2 ? d.strides[1] * static_cast<std::int64_t>(sizeof(T)) : 0) {
    if (d.ndim != 2) throw KernelError(std::string("embedding: ") + what + " must be 2-D");
  }
  T& operator()(std::int64_t r, std::int64_t c) const {
    return *reinterpret_cast<T*>(data + r * row_stride + c * col_stride);
  }
};

// A 1-D operand addressed by element.
template <typename T>
struct Vector {
  char* data;
  std::int64_t stride;  // bytes

  explicit Vector(const TensorDesc& d)
      : data(static_cast<char*>(d.data)),
        stride(d.ndim == 0 ? 0 : d.strides[0] * static_cast<std::int64_t>(sizeof(T))) {}
  T& operator[](std::int64_t i) const { return *reinterpret_cast<T*>(data + i * stride); }
};

void check_row(std::int64_t index, std::int64_t rows) {
  if (index < 0 || index >= rows) {
    throw KernelError("index " + std::to_string(index) +
                      " is out of bounds for dimension 0 with size " + std::to_string(rows));
  }
}

void check_float(DType dtype, const char* kernel) {
  if (dtype != DType::Float32 && dtype != DType::Float64 && dtype != DType::Float16 &&
      dtype != DType::BFloat16) {
    throw KernelError(std::string(kernel) + ": expected a floating-point weight, got " +
                      dtype_name(dtype));
  }
}

// Calls f(T{}) for the floating dtypes embeddings support.
template <typename F>
void visit_float(DType dtype, const char* kernel, F&& f) {
  check_float(dtype, kernel);
  visit_dtype(dtype, [&](auto t) {
    if constexpr (kFloatingStorage<decltype(t)>) {
      f(t);
    }
  });
}

// Runs fn(first, last) over feature columns in parallel: columns are written by one chunk each,
// so accumulation order, and the result, do not depend on the split.
void for_feature_chunks(std::int64_t features, std::int64_t work_per_feature,
                        const std::function<void(std::int64_t, std::int64_t)>& fn) {
  parallel_for(
      features,
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, work_per_feature)), fn);
}

// The bags' entry ranges, after checking the offsets PyTorch's CPU kernel checks.
struct Bags {
  std::int64_t count = 0;
  std::vector<std::int64_t> begin, end;
};

Bags bag_ranges(const EmbeddingBag& bag) {
  const std::int64_t n = bag.indices.numel(), m = bag.offsets.numel();
  const Vector<std::int64_t> offsets(bag.offsets);
  Bags bags;
  bags.count = bag.include_last_offset ? std::max<std::int64_t>(m - 1, 0) : m;
  if (m > 0 && offsets[0] != 0) {
    throw KernelError(
        "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
        "position 0. However, got " +
        std::to_string(offsets[0]));
  }
  if (m > 0 && offsets[m - 1] > n) {
    throw KernelError("offsets[-1] can not be greater than input's length " + std::to_string(n) +
                      " but got offsets[-1] of " + std::to_string(offsets[m - 1]));
  }
  for (std::int64_t b = 0; b < bags.count; ++b) {
    const std::int64_t last = b + 1 < m ? offsets[b + 1] : n;
    if (last < offsets[b]) {
      throw KernelError("offsets must be non-decreasing, but offsets[" + std::to_string(b) +
                        "] = " + std::to_string(offsets[b]) + " > offsets[" +
                        std::to_string(b + 1) + "] = " + std::to_string(last));
    }
    bags.begin.push_back(offsets[b]);
    bags.end.push_back(last);
  }
  return bags;
}

template <typename T>
void bag_forward_typed(const EmbeddingBag& bag, const TensorDesc& weight_desc,
                       const TensorDesc& output_desc, const TensorDesc& offset2bag_desc,
                       const TensorDesc& bag_size_desc, const TensorDesc& max_indices_desc) {
  using C = ComputeType<T>;
  const Matrix<T> weight(weight_desc, "weight"), output(output_desc, "output");
  const Vector<std::int64_t> indices(bag.indices), offset2bag(offset2bag_desc),
      bag_size(bag_size_desc);
  const Bags bags = bag_ranges(bag);
  const std::int64_t n = bag.indices.numel();
  std::vector<std::int64_t> counts(bags.count, 0);
  for (std::int64_t i = 0; i < n; ++i) offset2bag[i] = -1;
  for (std::int64_t b = 0; b < bags.count; ++b) {
    for (std::int64_t i = bags.begin[b]; i < bags.end[b]; ++i) {
      check_row(indices[i], weight.rows);
      offset2bag[i] = b;
      counts[b] += indices[i] != bag.padding_idx;
    }
  }
  for (std::int64_t b = 0; b < bag_size_desc.numel(); ++b) {
    bag_size[b] = b < bags.count && bag.mode != BagMode::Sum ? counts[b] : 0;
  }
  const bool max_mode = bag.mode == BagMode::Max;
  if (!max_mode) {
    const Vector<std::int64_t> copy(max_indices_desc);
    for (std::int64_t b = 0; b < max_indices_desc.numel(); ++b) copy[b] = bag_size[b];
  }
  const std::optional<Vector<T>> weights =
      bag.per_sample_weights ? std::optional(Vector<T>(*bag.per_sample_weights)) : std::nullopt;
  const std::optional<Matrix<std::int64_t>> arg =
      max_mode ? std::optional(Matrix<std::int64_t>(max_indices_desc, "max_indices"))
               : std::nullopt;
  for_feature_chunks(weight.cols, n + bags.count, [&](std::int64_t f0, std::int64_t f1) {
    std::vector<C> acc(f1 - f0);
    for (std::int64_t b = 0; b < bags.count; ++b) {
      std::fill(acc.begin(), acc.end(), C(0));
      bool first = true;
      for (std::int64_t i = bags.begin[b]; i < bags.end[b]; ++i) {
        const std::int64_t row = indices[i];
        if (row == bag.padding_idx) continue;
        if (max_mode) {
          for (std::int64_t f = f0; f < f1; ++f) {
            const C w = convert<C>(weight(row, f));
            if (first || w > acc[f - f0]) {
              acc[f - f0] = w;
              (*arg)(b, f) = row;
            }
          }
          first = false;
        } else {
          const C scale = weights ? convert<C>((*weights)[i]) : C(1);
          for (std::int64_t f = f0; f < f1; ++f) acc[f - f0] += scale * convert<C>(weight(row, f));
        }
      }
      if (max_mode && first) {
        for (std::int64_t f = f0; f < f1; ++f) (*arg)(b, f) = 0;
      }
      const C divisor = bag.mode == BagMode::Mean && counts[b] > 0 ? C(counts[b]) : C(1);
      for (std::int64_t f = f0; f < f1; ++f) output(b, f) = convert<T>(acc[f - f0] / divisor);
    }
  });
}

template <typename T>
void dense_backward_typed(const TensorDesc& grad_weight_desc, const TensorDesc& grad_desc,
                          const TensorDesc& indices_desc, std::int64_t padding_idx,
                          bool scale_by_frequency) {
  using C = ComputeType<T>;
  const Matrix<T> grad_weight(grad_weight_desc, "grad_weight"), grad(grad_desc, "grad");
  const Vector<std::int64_t> indices(indices_desc);
  const std::int64_t n = indices_desc.numel();
  if (grad.rows != n || grad.cols != grad_weight.cols) {
    throw KernelError("embedding_dense_backward: grad must be [indices, features]");
  }
  std::vector<std::int64_t> counts(scale_by_frequency ? grad_weight.rows : 0, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    check_row(indices[i], grad_weight.rows);
    if (scale_by_frequency) ++counts[indices[i]];
  }
  for_feature_chunks(grad_weight.cols, n, [&](std::int64_t f0, std::int64_t f1) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t row = indices[i];
      if (row == padding_idx) continue;
      const C scale = scale_by_frequency ? C(1.0 / static_cast<double>(counts[row])) : C(1);
      for (std::int64_t f = f0; f < f1; ++f) {
        grad_weight(row, f) =
            convert<T>(convert<C>(grad_weight(row, f)) + scale * convert<C>(grad(i, f)));
      }
    }
  });
}

template <typename T>
void bag_backward_typed(const EmbeddingBag& bag, const TensorDesc& grad_weight_desc,
                        const TensorDesc& grad_desc, const TensorDesc& offset2bag_desc,
                        const TensorDesc& bag_size_desc, const TensorDesc& max_indices_desc,
                        bool scale_by_frequency) {
  using C = ComputeType<T>;
  const Matrix<T> grad_weight(grad_weight_desc, "grad_weight"), grad(grad_desc, "grad");
  const Vector<std::int64_t> indices(bag.indices), offset2bag(offset2bag_desc),
      bag_size(bag_size_desc);
  if (grad.cols != grad_weight.cols)
    throw KernelError("embedding_bag_backward: feature counts differ");
  if (bag.mode == BagMode::Max) {
    const Matrix<std::int64_t> arg(max_indices_desc, "max_indices");
    for_feature_chunks(grad.cols, grad.rows, [&](std::int64_t f0, std::int64_t f1) {
      for (std::int64_t b = 0; b < grad.rows; ++b) {
        if (bag_size[b] == 0) continue;
        for (std::int64_t f = f0; f < f1; ++f) {
          const std::int64_t row = arg(b, f);
          check_row(row, grad_weight.rows);
          grad_weight(row, f) =
              convert<T>(convert<C>(grad_weight(row, f)) + convert<C>(grad(b, f)));
        }
      }
    });
    return;
  }
  const std::int64_t n = bag.indices.numel();
  std::vector<std::int64_t> counts(scale_by_frequency ? grad_weight.rows : 0, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    check_row(indices[i], grad_weight.rows);
    if (offset2bag[i] >= 0) check_row(offset2bag[i], grad.rows);
    if (scale_by_frequency) ++counts[indices[i]];
  }
  const std::optional<Vector<T>> weights =
      bag.per_sample_weights ? std::optional(Vector<T>(*bag.per_sample_weights)) : std::nullopt;
  for_feature_chunks(grad.cols, n, [&](std::int64_t f0, std::int64_t f1) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t row = indices[i], b = offset2bag[i];
      if (b < 0 || row == bag.padding_idx) continue;
      double scale = weights ? convert<double>((*weights)[i]) : 1.0;
      if (scale_by_frequency) scale /= static_cast<double>(counts[row]);
      if (bag.mode == BagMode::Mean && bag_size[b] != 0) scale /= static_cast<double>(bag_size[b]);
      const C factor = static_cast<C>(scale);
      for (std::int64_t f = f0; f < f1; ++f) {
        grad_weight(row, f) =
            convert<T>(convert<C>(grad_weight(row, f)) + factor * convert<C>(grad(b, f)));
      }
    }
  });
}

template <typename T>
void per_sample_weights_backward_typed(const EmbeddingBag& bag, const TensorDesc& grad_weights_desc,
                                       const TensorDesc& grad_desc, const TensorDesc& weight_desc,
                                       const TensorDesc& offset2bag_desc) {
  using C = ComputeType<T>;
  const Matrix<T> grad(grad_desc, "grad"), weight(weight_desc, "weight");
  const Vector<T> grad_weights(grad_weights_desc);
  const Vector<std::int64_t> indices(bag.indices), offset2bag(offset2bag_desc);
  for (std::int64_t i = 0; i < bag.indices.numel(); ++i) {
    const std::int64_t row = indices[i], b = offset2bag[i];
    C dot = 0;
    if (b >= 0 && row != bag.padding_idx) {
      check_row(row, weight.rows);
      check_row(b, grad.rows);
      for (std::int64_t f = 0; f < weight.cols; ++f)
        dot += convert<C>(grad(b, f)) * convert<C>(weight(row, f));
    }
    grad_weights[i] = convert<T>(dot);
  }
}

void check_index_operands(const EmbeddingBag& bag) {
  if (bag.indices.dtype != DType::Int64 || bag.offsets.dtype != DType::Int64) {
    throw KernelError("embedding_bag: indices and offsets must be int64");
  }
}

}  // namespace

void embedding_dense_backward(const TensorDesc& grad_weight, const TensorDesc& grad,
                              const TensorDesc& indices, std::int64_t padding_idx,
                              bool scale_by_frequency) {
  if (indices.dtype != DType::Int64)
    throw KernelError("embedding_dense_backward: indices must be int64");
  if (grad.dtype != grad_weight.dtype) throw KernelError("embedding_dense_backward: dtypes differ");
  visit_float(grad_weight.dtype, "embedding_dense_backward", [&](auto t) {
    dense_backward_typed<decltype(t)>(grad_weight, grad, indices, padding_idx, scale_by_frequency);
  });
}

void embedding_bag_forward(const EmbeddingBag& bag, const TensorDesc& weight,
                           const TensorDesc& output, const TensorDesc& offset2bag,
                           const TensorDesc& bag_size, const TensorDesc& max_indices) {
  check_index_operands(bag);
  if (output.dtype != weight.dtype)
    throw KernelError("embedding_bag: output and weight dtypes differ");
  visit_float(weight.dtype, "embedding_bag", [&](auto t) {
    bag_forward_typed<decltype(t)>(bag, weight, output, offset2bag, bag_size, max_indices);
  });
}

void embedding_bag_backward(const EmbeddingBag& bag, const TensorDesc& grad_weight,
                            const TensorDesc& grad, const TensorDesc& offset2bag,
                            const TensorDesc& bag_size, const TensorDesc& max_indices,
                            bool scale_by_frequency) {
  check_index_operands(bag);
  if (grad.dtype != grad_weight.dtype) throw KernelError("embedding_bag_backward: dtypes differ");
  visit_float(grad_weight.dtype, "embedding_bag_backward", [&](auto t) {
    bag_backward_typed<decltype(t)>(bag, grad_weight, grad, offset2bag, bag_size, max_indices,
                                    scale_by_frequency);
  });
}

void embedding_bag_per_sample_weights_backward(const EmbeddingBag& bag,
                                               const TensorDesc& grad_weights,
                                               const TensorDesc& grad, const TensorDesc& weight,
                                               const TensorDesc& offset2bag) {
  check_index_operands(bag);
  if (grad.dtype != weight.dtype || grad_weights.dtype != weight.dtype) {
    throw KernelError("embedding_bag_per_sample_weights_backward: dtypes differ");
  }
  visit_float(weight.dtype, "embedding_bag_per_sample_weights_backward", [&](auto t) {
    per_sample_weights_backward_typed<decltype(t)>(bag, grad_weights, grad, weight, offset2bag);
  });
}

}  // namespace mlu::kernels
