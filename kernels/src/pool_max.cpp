// Max pooling (strided and adaptive windows) with the flat in-plane index of each maximum, and its
// gradient.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pool_common.h"

namespace mlu::kernels {
namespace {

template <typename T>
void max_over_windows(const TensorDesc& out_desc, const TensorDesc& indices_desc,
                      const TensorDesc& in_desc, const Windows& windows) {
  using C = ComputeType<T>;
  const Grid<T> out = grid<T>(out_desc), in = grid<T>(in_desc);
  const Grid<std::int64_t> indices = grid<std::int64_t>(indices_desc);
  const std::int64_t height = in.sizes[3], width = in.sizes[4];
  for_each_cell(
      out, [&](std::int64_t n, std::int64_t c, std::int64_t od, std::int64_t oh, std::int64_t ow) {
        const Window &wd = windows[0][od], &wh = windows[1][oh], &ww = windows[2][ow];
        const T* src = in.plane(n, c);
        C best = std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity()
                                                      : std::numeric_limits<C>::lowest();
        std::int64_t best_index = (wd.first * height + wh.first) * width + ww.first;
        for (std::int64_t i = 0; i < wd.count; ++i) {
          const std::int64_t d = wd.first + i * wd.step;
          for (std::int64_t j = 0; j < wh.count; ++j) {
            const std::int64_t h = wh.first + j * wh.step;
            for (std::int64_t k = 0; k < ww.count; ++k) {
              const std::int64_t w = ww.first + k * ww.step;
              const C value = convert<C>(src[in.offset(d, h, w)]);
              bool better = value > best;
              if constexpr (std::is_floating_point_v<C>)
                better = better || value != value;  // NaN wins
              // Selects rather than a branch: which tap wins is data-dependent and unpredictable.
              best = better ? value : best;
              best_index = better ? (d * height + h) * width + w : best_index;
            }
          }
        }
        out.plane(n, c)[out.offset(od, oh, ow)] = convert<T>(best);
        indices.plane(n, c)[indices.offset(od, oh, ow)] = best_index;
      });
}

void check(const TensorDesc& out, const TensorDesc& indices, const TensorDesc& in,
           const char* kernel) {
  check_grid_operand(in, kernel);
  if (out.ndim != in.ndim || indices.sizes != out.sizes || indices.ndim != out.ndim ||
      indices.dtype != DType::Int64 || out.dtype != in.dtype || out.sizes[0] != in.sizes[0] ||
      out.sizes[1] != in.sizes[1]) {
    throw KernelError(std::string(kernel) + ": operand shapes or dtypes do not match");
  }
}

template <typename F>
void visit_poolable(DType dtype, const char* kernel, F&& f) {
  visit_dtype(dtype, [&](auto tag) {
    if constexpr (std::is_same_v<decltype(tag), bool>) {
      throw KernelError(std::string(kernel) + ": unsupported dtype bool");
    } else {
      f(tag);
    }
  });
}

void pool(const TensorDesc& out, const TensorDesc& indices, const TensorDesc& in,
          const Windows& windows, const char* kernel) {
  if (out.numel() == 0) return;
  visit_poolable(in.dtype, kernel,
                 [&](auto tag) { max_over_windows<decltype(tag)>(out, indices, in, windows); });
}

}  // namespace

void max_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& indices,
              const TensorDesc& in) {
  check(out, indices, in, "max_pool");
  pool(out, indices, in,
       kernel_windows(p, grid<char>(in).sizes, grid<char>(out).sizes, in.ndim - 2), "max_pool");
}

void adaptive_max_pool(const TensorDesc& out, const TensorDesc& indices, const TensorDesc& in) {
  check(out, indices, in, "adaptive_max_pool");
  pool(out, indices, in, adaptive_windows(grid<char>(in).sizes, grid<char>(out).sizes),
       "adaptive_max_pool");
}

void max_pool_backward(const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                       const TensorDesc& indices_desc) {
  check(grad_out_desc, indices_desc, grad_in_desc, "max_pool_backward");
  if (grad_in_desc.numel() == 0) return;
  visit_poolable(grad_in_desc.dtype, "max_pool_backward", [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeType<T>;
    const Grid<T> grad_in = grid<T>(grad_in_desc), grad_out = grid<T>(grad_out_desc);
    const Grid<std::int64_t> indices = grid<std::int64_t>(indices_desc);
    const std::int64_t plane_size = grad_in.plane_size();
    scatter_planes<C>(grad_in, grad_out, [&](std::vector<C>& plane, const Cell& at, C value) {
      const std::int64_t i = indices.plane(at.n, at.c)[indices.offset(at.d, at.h, at.w)];
      if (i < 0 || i >= plane_size) {
        throw KernelError("max_pool_backward: index " + std::to_string(i) +
                          " is out of bounds for a plane of " + std::to_string(plane_size) +
                          " elements");
      }
      plane[i] += value;
    });
  });
}

}  // namespace mlu::kernels
