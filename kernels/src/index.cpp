#include "mlu_kernels/index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "index_loop.h"
#include "mlu_kernels/parallel.h"
#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {
namespace {

constexpr int kData = 2;  // operands before the index tensors: destination, then source

// The per-index constants, in the order the index tensors follow the two data operands.
struct IndexSpec {
  int count = 0;
  std::array<std::int64_t, kMaxDims> size{};
  std::array<std::int64_t, kMaxDims> stride_bytes{};
  std::array<int, kMaxDims> dim{};
  bool wrap = false;
};

[[noreturn]] void out_of_bounds(std::int64_t index, int dim, std::int64_t size) {
  throw KernelError("index " + std::to_string(index) + " is out of bounds for dimension " +
                    std::to_string(dim) + " with size " + std::to_string(size));
}

// The byte offset the index tensors select at element i of a row.
inline std::int64_t offset_at(const IndexSpec& spec, const OperandPointers& p,
                              const OperandStrides& s, std::int64_t i) {
  std::int64_t offset = 0;
  for (int k = 0; k < spec.count; ++k) {
    const std::int64_t raw =
        *reinterpret_cast<const std::int64_t*>(p[kData + k] + i * s[kData + k]);
    const std::int64_t index = raw < 0 && spec.wrap ? raw + spec.size[k] : raw;
    if (index < 0 || index >= spec.size[k]) out_of_bounds(raw, spec.dim[k], spec.size[k]);
    offset += index * spec.stride_bytes[k];
  }
  return offset;
}

// Rows along which no index varies (embedding rows, index_select of inner slices) need one
// lookup and a plain copy.
inline bool row_invariant(const IndexSpec& spec, const OperandStrides& s) {
  for (int k = 0; k < spec.count; ++k) {
    if (s[kData + k] != 0) return false;
  }
  return true;
}

// The unsigned integer type of an element size: gathers and assignments only move bytes.
template <typename F>
void visit_element_size(DType dtype, F&& f) {
  switch (element_size(dtype)) {
    case 1: return f(std::uint8_t{});
    case 2: return f(std::uint16_t{});
    case 4: return f(std::uint32_t{});
    case 8: return f(std::uint64_t{});
  }
  throw KernelError("unsupported element size");
}

struct Prepared {
  OperandLayout layout;
  IndexSpec spec;
};

Prepared prepare(const char* kernel, const TensorDesc& first, const TensorDesc& second,
                 const std::vector<IndexOperand>& indices, NegativeIndices negative) {
  check_same_shape(first, second, kernel);
  if (first.dtype != second.dtype)
    throw KernelError(std::string(kernel) + ": operand dtypes differ");
  if (indices.size() > static_cast<std::size_t>(kMaxDims)) {
    throw KernelError(std::string(kernel) + ": too many index tensors");
  }
  Prepared p;
  std::array<const TensorDesc*, kMaxOperands> operands{&first, &second};
  p.spec.count = static_cast<int>(indices.size());
  p.spec.wrap = negative == NegativeIndices::Wrap;
  const auto element = static_cast<std::int64_t>(element_size(first.dtype));
  for (int k = 0; k < p.spec.count; ++k) {
    const IndexOperand& op = indices[k];
    check_same_shape(first, op.index, kernel);
    if (op.index.dtype != DType::Int64)
      throw KernelError(std::string(kernel) + ": indices must be int64");
    operands[kData + k] = &op.index;
    p.spec.size[k] = op.size;
    p.spec.stride_bytes[k] = op.stride * element;
    p.spec.dim[k] = op.dim;
  }
  p.layout = coalesce_operands(operands.data(), kData + p.spec.count);
  return p;
}

template <typename T>
void gather_rows(const Prepared& p, std::int64_t first, std::int64_t last) {
  const IndexSpec& spec = p.spec;
  for_each_operand_row(p.layout, first, last,
                       [&](const OperandPointers& ptr, const OperandStrides& s, std::int64_t n) {
                         if (row_invariant(spec, s)) {
                           const char* src = ptr[1] + offset_at(spec, ptr, s, 0);
                           if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
                             std::memcpy(ptr[0], src, n * sizeof(T));
                           } else {
                             for (std::int64_t i = 0; i < n; ++i) {
                               *reinterpret_cast<T*>(ptr[0] + i * s[0]) =
                                   *reinterpret_cast<const T*>(src + i * s[1]);
                             }
                           }
                           return;
                         }
                         for (std::int64_t i = 0; i < n; ++i) {
                           *reinterpret_cast<T*>(ptr[0] + i * s[0]) = *reinterpret_cast<const T*>(
                               ptr[1] + i * s[1] + offset_at(spec, ptr, s, i));
                         }
                       });
}

// Serial: duplicate indices must combine in a fixed order.
template <typename T, typename Combine>
void scatter_rows(const Prepared& p, Combine combine) {
  const IndexSpec& spec = p.spec;
  const std::int64_t rows = p.layout.ndim == 0 ? 1 : p.layout.sizes[0];
  for_each_operand_row(
      p.layout, 0, rows, [&](const OperandPointers& ptr, const OperandStrides& s, std::int64_t n) {
        if (row_invariant(spec, s)) {
          char* dst = ptr[0] + offset_at(spec, ptr, s, 0);
          for (std::int64_t i = 0; i < n; ++i) {
            T* d = reinterpret_cast<T*>(dst + i * s[0]);
            *d = combine(*d, *reinterpret_cast<const T*>(ptr[1] + i * s[1]));
          }
          return;
        }
        for (std::int64_t i = 0; i < n; ++i) {
          T* d = reinterpret_cast<T*>(ptr[0] + i * s[0] + offset_at(spec, ptr, s, i));
          *d = combine(*d, *reinterpret_cast<const T*>(ptr[1] + i * s[1]));
        }
      });
}

template <typename T>
void scatter_reduce_typed(const Prepared& p, ScatterReduce reduce, double alpha_value) {
  using C = ComputeType<T>;
  auto with = [&](auto op) {
    scatter_rows<T>(p, [op](T d, T v) { return convert<T>(op(convert<C>(d), convert<C>(v))); });
  };
  const C alpha = static_cast<C>(alpha_value);
  constexpr bool boolean = std::is_same_v<T, bool>;
  switch (reduce) {
    case ScatterReduce::Assign: break;  // handled by size
    case ScatterReduce::Add:
      if constexpr (boolean)
        return with([alpha](C d, C v) { return C(d || (alpha && v)); });
      else if (alpha_value == 1)
        return with([](C d, C v) { return C(d + v); });
      else
        return with([alpha](C d, C v) { return C(d + alpha * v); });
    case ScatterReduce::Multiply:
      if constexpr (boolean)
        return with([](C d, C v) { return C(d && v); });
      else
        return with([](C d, C v) { return C(d * v); });
    // NaN wins, as in PyTorch's scatter_reduce amax/amin.
    case ScatterReduce::Maximum:
      return with([](C d, C v) { return std::isnan(double(v)) ? v : std::max(d, v); });
    case ScatterReduce::Minimum:
      return with([](C d, C v) { return std::isnan(double(v)) ? v : std::min(d, v); });
  }
}

}  // namespace

void index_gather(const TensorDesc& out, const TensorDesc& src,
                  const std::vector<IndexOperand>& indices, NegativeIndices negative) {
  if (out.numel() == 0) return;
  const Prepared p = prepare("index_gather", out, src, indices, negative);
  visit_element_size(out.dtype, [&](auto t) {
    using T = decltype(t);
    const std::int64_t rows = p.layout.ndim == 0 ? 1 : p.layout.sizes[0];
    const std::int64_t per_row = out.numel() / rows;
    parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / per_row),
                 [&](std::int64_t first, std::int64_t last) { gather_rows<T>(p, first, last); });
  });
}

void index_scatter(const TensorDesc& dst, const TensorDesc& values,
                   const std::vector<IndexOperand>& indices, NegativeIndices negative,
                   ScatterReduce reduce, double alpha) {
  if (dst.numel() == 0) return;
  const Prepared p = prepare("index_scatter", dst, values, indices, negative);
  if (reduce == ScatterReduce::Assign) {
    visit_element_size(dst.dtype, [&](auto t) {
      using T = decltype(t);
      scatter_rows<T>(p, [](T, T v) { return v; });
    });
    return;
  }
  visit_dtype(dst.dtype, [&](auto t) { scatter_reduce_typed<decltype(t)>(p, reduce, alpha); });
}

void masked_scatter(const TensorDesc& dst, const TensorDesc& mask, const TensorDesc& source) {
  check_same_shape(dst, mask, "masked_scatter");
  if (mask.dtype != DType::Bool || source.dtype != dst.dtype || source.ndim != 1) {
    throw KernelError("masked_scatter: mask must be bool and source a vector of dst's dtype");
  }
  if (dst.numel() == 0) return;
  const std::array<const TensorDesc*, 2> operands{&dst, &mask};
  const OperandLayout layout = coalesce_operands(operands.data(), 2);
  const std::int64_t available = source.sizes[0];
  const std::size_t size = element_size(dst.dtype);
  const std::int64_t source_step = source.strides[0] * static_cast<std::int64_t>(size);
  const char* next = static_cast<const char*>(source.data);
  std::int64_t taken = 0;
  // Serial and in row-major order: the k-th selected element takes source[k].
  for_each_operand_row(
      layout, 0, layout.ndim == 0 ? 1 : layout.sizes[0],
      [&](const OperandPointers& p, const OperandStrides& s, std::int64_t n) {
        for (std::int64_t i = 0; i < n; ++i) {
          if (!*reinterpret_cast<const bool*>(p[1] + i * s[1])) continue;
          if (taken == available) {
            throw KernelError("masked_scatter: the mask selects more elements than source has (" +
                              std::to_string(available) + ")");
          }
          std::memcpy(p[0] + i * s[0], next, size);
          next += source_step;
          ++taken;
        }
      });
}

void nonzero(const TensorDesc& out, const TensorDesc& in) {
  const int dims = in.ndim;
  if (out.dtype != DType::Int64 || out.ndim != 2 || out.sizes[1] != dims ||
      (out.sizes[0] > 1 && out.strides[0] != dims) || (dims > 1 && out.strides[1] != 1)) {
    throw KernelError("nonzero: out must be a contiguous int64 [count, ndim] matrix");
  }
  const std::int64_t rows = out.sizes[0], numel = in.numel();
  auto* coordinates = static_cast<std::int64_t*>(out.data);
  std::array<std::int64_t, kMaxDims> index{};
  std::int64_t found = 0;
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* base = static_cast<const T*>(in.data);
    std::int64_t offset = 0;
    for (std::int64_t k = 0; k < numel; ++k) {
      if (convert<bool>(base[offset])) {
        if (found == rows)
          throw KernelError("nonzero: more nonzero elements than the output has rows");
        std::copy_n(index.begin(), dims, coordinates + found * dims);
        ++found;
      }
      for (int d = dims - 1; d >= 0; --d) {  // the next element in row-major order
        offset += in.strides[d];
        if (++index[d] < in.sizes[d]) break;
        offset -= in.strides[d] * in.sizes[d];
        index[d] = 0;
      }
    }
  });
  if (found != rows) throw KernelError("nonzero: fewer nonzero elements than the output has rows");
}

}  // namespace mlu::kernels
