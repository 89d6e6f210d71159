#include <algorithm>
#include <cstring>
#include <utility>

#include "mlu_kernels/parallel.h"
#include "mlu_kernels/shape.h"
#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {

void triangle(const TensorDesc& out, const TensorDesc& in, std::int64_t diagonal, bool upper) {
  check_same_shape(out, in, "triangle");
  if (out.dtype != in.dtype) throw KernelError("triangle: operand dtypes differ");
  if (out.ndim < 2) throw KernelError("triangle: needs at least 2 dims");
  if (out.numel() == 0) return;
  const int row_dim = out.ndim - 2, col_dim = out.ndim - 1;
  const std::int64_t rows = out.sizes[row_dim], cols = out.sizes[col_dim];
  const auto element = static_cast<std::int64_t>(element_size(out.dtype));
  // Each matrix row is a run of kept columns and a run of zeroed ones.
  auto row_pointers = [&](std::int64_t flat_row) {
    char* o = static_cast<char*>(out.data);
    const char* s = static_cast<const char*>(in.data);
    for (int d = row_dim; d >= 0; --d) {
      const std::int64_t index = flat_row % out.sizes[d];
      flat_row /= out.sizes[d];
      o += index * out.strides[d] * element;
      s += index * in.strides[d] * element;
    }
    return std::pair{o, s};
  };
  const std::int64_t out_step = out.strides[col_dim] * element,
                     in_step = in.strides[col_dim] * element;
  const std::int64_t total_rows = out.numel() / cols;
  parallel_for(total_rows, std::max<std::int64_t>(1, kParallelGrain / cols),
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t r = first; r < last; ++r) {
                   const std::int64_t i = r % rows;
                   // tril keeps columns [0, i + diagonal], triu keeps [i + diagonal, cols).
                   const std::int64_t bound =
                       std::clamp<std::int64_t>(upper ? i + diagonal : i + diagonal + 1, 0, cols);
                   const std::int64_t keep_begin = upper ? bound : 0,
                                      keep_end = upper ? cols : bound;
                   auto [o, s] = row_pointers(r);
                   for (std::int64_t j = 0; j < cols; ++j) {
                     char* target = o + j * out_step;
                     if (j >= keep_begin && j < keep_end) {
                       if (target != s + j * in_step) std::memcpy(target, s + j * in_step, element);
                     } else {
                       std::memset(target, 0, element);
                     }
                   }
                 }
               });
}

void triangle_indices(const TensorDesc& out, std::int64_t col, std::int64_t offset, bool upper) {
  if (out.ndim != 2 || out.sizes[0] != 2) throw KernelError("triangle_indices: out must be [2, n]");
  if (out.dtype != DType::Int32 && out.dtype != DType::Int64) {
    throw KernelError("triangle_indices: out must be int32 or int64");
  }
  const std::int64_t n = out.sizes[1];
  const auto element = static_cast<std::int64_t>(element_size(out.dtype));
  char* rows = static_cast<char*>(out.data);
  char* cols = rows + out.strides[0] * element;
  const std::int64_t step = out.strides[1] * element;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
      // Row by row: tril's row r spans columns [0, r + offset], triu's [r + offset, col).
      std::int64_t r = upper ? 0 : std::max<std::int64_t>(0, -offset);
      std::int64_t c = upper ? std::max<std::int64_t>(0, offset) : 0;
      for (std::int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(rows + i * step) = static_cast<T>(r);
        *reinterpret_cast<T*>(cols + i * step) = static_cast<T>(c);
        ++c;
        if (upper ? c >= col : (c > r + offset || c >= col)) {
          ++r;
          c = upper ? std::max<std::int64_t>(0, r + offset) : 0;
        }
      }
    }
  });
}

}  // namespace mlu::kernels
