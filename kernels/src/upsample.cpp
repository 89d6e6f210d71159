// Nearest and linear resampling with the index arithmetic of PyTorch's CPU kernels (float source
// coordinates for nearest, the compute type for linear), so that results match bit for bit where
// the operation order allows.
#include "mlu_kernels/upsample.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "grid.h"

namespace mlu::kernels {
namespace {

// The user's scale for grid dim d (2..4), 0 when none.
double scale_of(const UpsampleScales& scales, const TensorDesc& d, int grid_dim) {
  return scales[grid_dim - 2 - (3 - (d.ndim - 2))];
}

std::vector<std::int64_t> nearest_sources(std::int64_t in, std::int64_t out, double scale,
                                          bool exact) {
  std::vector<std::int64_t> sources(out);
  const float ratio = scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / out;
  for (std::int64_t o = 0; o < out; ++o) {
    if (exact) {
      sources[o] = std::min(
          static_cast<std::int64_t>(std::floor(static_cast<float>((o + 0.5) * ratio))), in - 1);
    } else if (out == in) {
      sources[o] = o;
    } else if (out == 2 * in) {
      sources[o] = o >> 1;
    } else {
      sources[o] = std::min(static_cast<std::int64_t>(std::floor(o * ratio)), in - 1);
    }
  }
  return sources;
}

SourceMap nearest_map(const TensorDesc& in, const TensorDesc& out, const UpsampleScales& scales,
                      bool exact) {
  const Grid<char> gi = grid<char>(in), go = grid<char>(out);
  SourceMap sources;
  for (int d = 2; d < 5; ++d) {
    const bool real = d - 2 >= 3 - (in.ndim - 2);  // else a padding dim of size 1
    sources[d - 2] = real
                         ? nearest_sources(gi.sizes[d], go.sizes[d], scale_of(scales, in, d), exact)
                         : std::vector<std::int64_t>(go.sizes[d], 0);
  }
  return sources;
}

// Two input indices and their weights for one output index of a linear interpolation.
template <typename C>
struct Tap {
  std::int64_t first, second;
  C first_weight, second_weight;
};

template <typename C>
std::vector<Tap<C>> linear_taps(std::int64_t in, std::int64_t out, double scale,
                                bool align_corners) {
  const C ratio =
      align_corners
          ? (out > 1 ? static_cast<C>(in - 1) / static_cast<C>(out - 1) : C(0))
          : (scale > 0 ? static_cast<C>(1.0 / scale) : static_cast<C>(in) / static_cast<C>(out));
  std::vector<Tap<C>> taps(out);
  for (std::int64_t o = 0; o < out; ++o) {
    const C source = align_corners ? ratio * static_cast<C>(o)
                                   : std::max(ratio * (static_cast<C>(o) + C(0.5)) - C(0.5), C(0));
    const std::int64_t index = std::min(static_cast<std::int64_t>(std::floor(source)), in - 1);
    const C lambda = std::min(std::max(source - static_cast<C>(index), C(0)), C(1));
    taps[o] = Tap<C>{index, index + (index < in - 1 ? 1 : 0), C(1) - lambda, lambda};
  }
  return taps;
}

template <typename C>
using TapSet = std::array<std::vector<Tap<C>>, 3>;

template <typename C>
TapSet<C> linear_map(const TensorDesc& in, const TensorDesc& out, const UpsampleScales& scales,
                     bool align_corners) {
  const Grid<char> gi = grid<char>(in), go = grid<char>(out);
  TapSet<C> taps;
  for (int d = 2; d < 5; ++d) {
    const bool real = d - 2 >= 3 - (in.ndim - 2);
    taps[d - 2] =
        real ? linear_taps<C>(gi.sizes[d], go.sizes[d], scale_of(scales, in, d), align_corners)
             : std::vector<Tap<C>>(go.sizes[d], Tap<C>{0, 0, C(1), C(0)});
  }
  return taps;
}

void check(const TensorDesc& a, const TensorDesc& b, const char* kernel) {
  check_grid_operand(a, kernel);
  if (a.ndim != b.ndim || a.dtype != b.dtype || a.sizes[0] != b.sizes[0] ||
      a.sizes[1] != b.sizes[1]) {
    throw KernelError(std::string(kernel) + ": operand shapes or dtypes do not match");
  }
}

template <typename F>
void visit_resamplable(DType dtype, const char* kernel, F&& f) {
  visit_dtype(dtype, [&](auto tag) {
    if constexpr (std::is_same_v<decltype(tag), bool>) {
      throw KernelError(std::string(kernel) + ": unsupported dtype bool");
    } else {
      f(tag);
    }
  });
}

template <typename T>
using LinearCompute = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Bicubic interpolation (2-D): four clamped input indices and their weights per output index,
// Keys' cubic convolution with A = -0.75 as PyTorch's CPU kernel computes them.
template <typename C>
struct CubicTaps {
  std::array<std::int64_t, 4> index;
  std::array<C, 4> weight;
};

template <typename C>
std::vector<CubicTaps<C>> cubic_taps(std::int64_t in, std::int64_t out, double scale,
                                     bool align_corners) {
  const C ratio =
      align_corners
          ? (out > 1 ? static_cast<C>(in - 1) / static_cast<C>(out - 1) : C(0))
          : (scale > 0 ? static_cast<C>(1.0 / scale) : static_cast<C>(in) / static_cast<C>(out));
  constexpr C A = C(-0.75);
  auto near = [](C x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };       // |x| <= 1
  auto far = [](C x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
  std::vector<CubicTaps<C>> taps(out);
  for (std::int64_t o = 0; o < out; ++o) {
    // Unlike linear interpolation, the source coordinate is not clamped at 0.
    const C source =
        align_corners ? ratio * static_cast<C>(o) : ratio * (static_cast<C>(o) + C(0.5)) - C(0.5);
    const C floor = std::floor(source);
    const std::int64_t first = static_cast<std::int64_t>(floor);
    const C t = source - floor;
    taps[o].weight = {far(t + 1), near(t), near(1 - t), far(2 - t)};
    for (int k = 0; k < 4; ++k)
      taps[o].index[k] = std::clamp<std::int64_t>(first - 1 + k, 0, in - 1);
  }
  return taps;
}

template <typename C>
std::array<std::vector<CubicTaps<C>>, 2> cubic_map(const TensorDesc& in, const TensorDesc& out,
                                                   const UpsampleScales& scales,
                                                   bool align_corners) {
  if (in.ndim != 4) throw KernelError("upsample_bicubic: expected [N, C, H, W] operands");
  return {cubic_taps<C>(in.sizes[2], out.sizes[2], scales[0], align_corners),
          cubic_taps<C>(in.sizes[3], out.sizes[3], scales[1], align_corners)};
}

}  // namespace

void upsample_nearest(const TensorDesc& out_desc, const TensorDesc& in_desc,
                      const UpsampleScales& scales, bool exact) {
  check(out_desc, in_desc, "upsample_nearest");
  if (out_desc.numel() == 0) return;
  const SourceMap s = nearest_map(in_desc, out_desc, scales, exact);
  visit_resamplable(in_desc.dtype, "upsample_nearest", [&](auto tag) {
    using T = decltype(tag);
    gather_through(grid<T>(out_desc), grid<T>(in_desc), s);
  });
}

void upsample_nearest_backward(const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                               const UpsampleScales& scales, bool exact) {
  check(grad_out_desc, grad_in_desc, "upsample_nearest_backward");
  if (grad_in_desc.numel() == 0) return;
  const SourceMap s = nearest_map(grad_in_desc, grad_out_desc, scales, exact);
  visit_resamplable(grad_in_desc.dtype, "upsample_nearest_backward", [&](auto tag) {
    using T = decltype(tag);
    scatter_add_through(grid<T>(grad_in_desc), grid<T>(grad_out_desc), s);
  });
}

void upsample_linear(const TensorDesc& out_desc, const TensorDesc& in_desc,
                     const UpsampleScales& scales, bool align_corners) {
  check(out_desc, in_desc, "upsample_linear");
  if (out_desc.numel() == 0) return;
  visit_resamplable(in_desc.dtype, "upsample_linear", [&](auto tag) {
    using T = decltype(tag);
    using C = LinearCompute<T>;
    const TapSet<C> taps = linear_map<C>(in_desc, out_desc, scales, align_corners);
    const bool real_d = in_desc.ndim == 5, real_h = in_desc.ndim >= 4;
    const Grid<T> out = grid<T>(out_desc), in = grid<T>(in_desc);
    for_each_cell(
        out, [&](std::int64_t n, std::int64_t c, std::int64_t d, std::int64_t h, std::int64_t w) {
          const T* src = in.plane(n, c);
          const Tap<C>&td = taps[0][d], &th = taps[1][h], &tw = taps[2][w];
          // Outer dims weight the interpolations along inner ones, as the CPU kernel nests them.
          auto along_w = [&](std::int64_t id, std::int64_t ih) {
            return convert<C>(src[in.offset(id, ih, tw.first)]) * tw.first_weight +
                   convert<C>(src[in.offset(id, ih, tw.second)]) * tw.second_weight;
          };
          auto along_h = [&](std::int64_t id) {
            return real_h ? along_w(id, th.first) * th.first_weight +
                                along_w(id, th.second) * th.second_weight
                          : along_w(id, 0);
          };
          const C value =
              real_d ? along_h(td.first) * td.first_weight + along_h(td.second) * td.second_weight
                     : along_h(0);
          // Integers round to nearest, halves up, rather than truncate. PyTorch CPU's uint8 path
          // also rounds between its separable passes, so a few pixels still differ by 1.
          if constexpr (std::is_integral_v<T>) {
            out.plane(n, c)[out.offset(d, h, w)] = convert<T>(std::floor(value + C(0.5)));
          } else {
            out.plane(n, c)[out.offset(d, h, w)] = convert<T>(value);
          }
        });
  });
}

void upsample_linear_backward(const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                              const UpsampleScales& scales, bool align_corners) {
  check(grad_out_desc, grad_in_desc, "upsample_linear_backward");
  if (grad_in_desc.numel() == 0) return;
  visit_resamplable(grad_in_desc.dtype, "upsample_linear_backward", [&](auto tag) {
    using T = decltype(tag);
    using C = LinearCompute<T>;
    const TapSet<C> taps = linear_map<C>(grad_in_desc, grad_out_desc, scales, align_corners);
    const Grid<T> grad_in = grid<T>(grad_in_desc), grad_out = grid<T>(grad_out_desc);
    const std::int64_t height = grad_in.sizes[3], width = grad_in.sizes[4];
    const int taps_d = grad_in_desc.ndim == 5 ? 2 : 1, taps_h = grad_in_desc.ndim >= 4 ? 2 : 1;
    scatter_planes<C>(grad_in, grad_out, [&](std::vector<C>& plane, const Cell& at, C value) {
      const Tap<C>&td = taps[0][at.d], &th = taps[1][at.h], &tw = taps[2][at.w];
      for (int a = 0; a < taps_d; ++a)
        for (int b = 0; b < taps_h; ++b) {
          const std::int64_t id = a ? td.second : td.first, ih = b ? th.second : th.first;
          // The CPU kernel weighs outer dims first: (d * h) * w * grad.
          const C outer = (taps_d == 2 ? (a ? td.second_weight : td.first_weight) : C(1)) *
                          (b ? th.second_weight : th.first_weight);
          const std::int64_t row = (id * height + ih) * width;
          plane[row + tw.first] += outer * tw.first_weight * value;
          plane[row + tw.second] += outer * tw.second_weight * value;
        }
    });
  });
}

void upsample_bicubic(const TensorDesc& out_desc, const TensorDesc& in_desc,
                      const UpsampleScales& scales, bool align_corners) {
  check(out_desc, in_desc, "upsample_bicubic");
  if (out_desc.numel() == 0) return;
  visit_resamplable(in_desc.dtype, "upsample_bicubic", [&](auto tag) {
    using T = decltype(tag);
    using C = LinearCompute<T>;
    const auto taps = cubic_map<C>(in_desc, out_desc, scales, align_corners);
    const Grid<T> out = grid<T>(out_desc), in = grid<T>(in_desc);
    for_each_cell(
        out, [&](std::int64_t n, std::int64_t c, std::int64_t, std::int64_t h, std::int64_t w) {
          const T* src = in.plane(n, c);
          const CubicTaps<C>&th = taps[0][h], &tw = taps[1][w];
          // Along each of the four rows first, then across them, as the CPU kernel nests them.
          C value = 0;
          for (int i = 0; i < 4; ++i) {
            C row = 0;
            for (int j = 0; j < 4; ++j)
              row += convert<C>(src[in.offset(0, th.index[i], tw.index[j])]) * tw.weight[j];
            value += row * th.weight[i];
          }
          out.plane(n, c)[out.offset(0, h, w)] = convert<T>(value);
        });
  });
}

void upsample_bicubic_backward(const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                               const UpsampleScales& scales, bool align_corners) {
  check(grad_out_desc, grad_in_desc, "upsample_bicubic_backward");
  if (grad_in_desc.numel() == 0) return;
  visit_resamplable(grad_in_desc.dtype, "upsample_bicubic_backward", [&](auto tag) {
    using T = decltype(tag);
    using C = LinearCompute<T>;
    const auto taps = cubic_map<C>(grad_in_desc, grad_out_desc, scales, align_corners);
    const Grid<T> grad_in = grid<T>(grad_in_desc), grad_out = grid<T>(grad_out_desc);
    const std::int64_t width = grad_in.sizes[4];
    scatter_planes<C>(grad_in, grad_out, [&](std::vector<C>& plane, const Cell& at, C value) {
      const CubicTaps<C>&th = taps[0][at.h], &tw = taps[1][at.w];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          plane[th.index[i] * width + tw.index[j]] += value * tw.weight[j] * th.weight[i];
    });
  });
}

}  // namespace mlu::kernels
