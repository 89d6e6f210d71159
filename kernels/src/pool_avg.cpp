// Average pooling (strided and adaptive windows) and its gradient. Integer inputs divide as
// integers, as PyTorch's CPU kernels do.
#include <algorithm>
#include <string>

#include "pool_common.h"

namespace mlu::kernels {
namespace {

std::int64_t divisor(const Window& d, const Window& h, const Window& w,
                     std::int64_t divisor_override) {
  return divisor_override != 0 ? divisor_override : d.divisor * h.divisor * w.divisor;
}

template <typename T>
void average(const TensorDesc& out_desc, const TensorDesc& in_desc, const Windows& windows,
             std::int64_t divisor_override) {
  using C = ComputeType<T>;
  const Grid<T> out = grid<T>(out_desc), in = grid<T>(in_desc);
  for_each_cell(
      out, [&](std::int64_t n, std::int64_t c, std::int64_t od, std::int64_t oh, std::int64_t ow) {
        const Window &wd = windows[0][od], &wh = windows[1][oh], &ww = windows[2][ow];
        const T* src = in.plane(n, c);
        C sum = 0;
        for (std::int64_t d = wd.first; d < wd.first + wd.count; ++d)
          for (std::int64_t h = wh.first; h < wh.first + wh.count; ++h)
            for (std::int64_t w = ww.first; w < ww.first + ww.count; ++w)
              sum += convert<C>(src[in.offset(d, h, w)]);
        out.plane(n, c)[out.offset(od, oh, ow)] =
            convert<T>(sum / static_cast<C>(divisor(wd, wh, ww, divisor_override)));
      });
}

template <typename T>
void average_backward(const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                      const Windows& windows, std::int64_t divisor_override) {
  using C = ComputeType<T>;
  const Grid<T> grad_in = grid<T>(grad_in_desc), grad_out = grid<T>(grad_out_desc);
  const std::int64_t height = grad_in.sizes[3], width = grad_in.sizes[4];
  scatter_planes<C>(grad_in, grad_out, [&](std::vector<C>& plane, const Cell& at, C value) {
    const Window &wd = windows[0][at.d], &wh = windows[1][at.h], &ww = windows[2][at.w];
    const C share = value / static_cast<C>(divisor(wd, wh, ww, divisor_override));
    for (std::int64_t d = wd.first; d < wd.first + wd.count; ++d)
      for (std::int64_t h = wh.first; h < wh.first + wh.count; ++h)
        for (std::int64_t w = ww.first; w < ww.first + ww.count; ++w)
          plane[(d * height + h) * width + w] += share;
  });
}

template <typename F>
void visit_averageable(DType dtype, const char* kernel, F&& f) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> ||
                  (std::is_integral_v<T> && !std::is_same_v<T, std::int64_t>)) {
      throw KernelError(std::string(kernel) + ": unsupported dtype " + dtype_name(dtype));
    } else {
      f(tag);
    }
  });
}

void check(const TensorDesc& small, const TensorDesc& large, const char* kernel) {
  check_grid_operand(large, kernel);
  if (small.ndim != large.ndim || small.dtype != large.dtype || small.sizes[0] != large.sizes[0] ||
      small.sizes[1] != large.sizes[1]) {
    throw KernelError(std::string(kernel) + ": operand shapes or dtypes do not match");
  }
}

// The pooled side, the other side, and the windows between them.
template <bool forward>
void run(const TensorDesc& pooled, const TensorDesc& full, const Windows& windows,
         std::int64_t divisor_override, const char* kernel) {
  check(pooled, full, kernel);
  if ((forward ? pooled : full).numel() == 0) return;
  visit_averageable(full.dtype, kernel, [&](auto tag) {
    if constexpr (forward) {
      average<decltype(tag)>(pooled, full, windows, divisor_override);
    } else {
      average_backward<decltype(tag)>(full, pooled, windows, divisor_override);
    }
  });
}

}  // namespace

void avg_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& in) {
  run<true>(out, in, kernel_windows(p, grid<char>(in).sizes, grid<char>(out).sizes, in.ndim - 2),
            p.divisor_override, "avg_pool");
}

void avg_pool_backward(const PoolParams& p, const TensorDesc& grad_in, const TensorDesc& grad_out) {
  run<false>(
      grad_out, grad_in,
      kernel_windows(p, grid<char>(grad_in).sizes, grid<char>(grad_out).sizes, grad_in.ndim - 2),
      p.divisor_override, "avg_pool_backward");
}

void adaptive_avg_pool(const TensorDesc& out, const TensorDesc& in) {
  run<true>(out, in, adaptive_windows(grid<char>(in).sizes, grid<char>(out).sizes), 0,
            "adaptive_avg_pool");
}

void adaptive_avg_pool_backward(const TensorDesc& grad_in, const TensorDesc& grad_out) {
  run<false>(grad_out, grad_in,
             adaptive_windows(grid<char>(grad_in).sizes, grid<char>(grad_out).sizes), 0,
             "adaptive_avg_pool_backward");
}

}  // namespace mlu::kernels
