// grid_sample with PyTorch's source-index rules (GridSampler.h): unnormalise, then clip or
// reflect for the padding mode. Forward is split over (image, output row); backward over images,
// each of which owns its slices of both gradients.
#include "mlu_kernels/grid_sample.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "float_operands.h"
#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

template <typename T>
struct Strided4 {
  T* data;
  std::int64_t s0, s1, s2, s3;
  T& at(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) const {
    return data[a * s0 + b * s1 + c * s2 + d * s3];
  }
};

template <typename T>
Strided4<T> view(const TensorDesc& d) {
  return {static_cast<T*>(d.data), d.strides[0], d.strides[1], d.strides[2], d.strides[3]};
}

// A source coordinate along one axis, and its derivative with respect to the grid value.
template <typename T>
struct Source {
  T index;
  T slope;
};

template <typename T>
Source<T> source_index(T coord, std::int64_t size, const GridSample& g) {
  const T n = static_cast<T>(size);
  T x = g.align_corners ? (coord + 1) / 2 * (n - 1) : ((coord + 1) * n - 1) / 2;
  T slope = g.align_corners ? (n - 1) / 2 : n / 2;
  const auto clip = [&](T v) {
    if (v <= 0) {
      slope = 0;
      return T(0);
    }
    if (v >= n - 1) {
      slope = 0;
      return n - 1;
    }
    return v;
  };
  if (g.padding == GridPadding::Border) {
    x = clip(x);
  } else if (g.padding == GridPadding::Reflection) {
    // Reflect about the borders (the pixel centres, or the image's edges without align_corners).
    const T low = g.align_corners ? T(0) : T(-0.5), span = g.align_corners ? n - 1 : n;
    if (span <= 0) {
      x = 0;
      slope = 0;
    } else {
      T distance = x - low;
      if (distance < 0) {
        distance = -distance;
        slope = -slope;
      }
      const T extra = std::fmod(distance, span);
      const auto flips = static_cast<std::int64_t>(std::floor(distance / span));
      if (flips % 2 == 0) {
        x = extra + low;
      } else {
        x = span - extra + low;
        slope = -slope;
      }
      x = clip(x);
    }
  }
  // Far outside any int range (or NaN): a point that reads nothing, as PyTorch's
  // safe_downgrade_to_int_range makes it.
  if (!(x > T(-1e9) && x < T(1e9))) x = T(-100);
  return {x, slope};
}

bool inside(std::int64_t y, std::int64_t x, std::int64_t h, std::int64_t w) {
  return y >= 0 && y < h && x >= 0 && x < w;
}

template <typename T>
void forward(const GridSample& g, const TensorDesc& output) {
  const auto in = view<const T>(g.input);
  const auto grid = view<const T>(g.grid);
  const auto out = view<T>(output);
  const std::int64_t n = g.input.sizes[0], channels = g.input.sizes[1], h = g.input.sizes[2],
                     w = g.input.sizes[3], ho = g.grid.sizes[1], wo = g.grid.sizes[2];
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, wo * channels * 4));
  parallel_for(n * ho, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t row = first; row < last; ++row) {
      const std::int64_t b = row / ho, oy = row % ho;
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        const T ix = source_index(grid.at(b, oy, ox, 0), w, g).index;
        const T iy = source_index(grid.at(b, oy, ox, 1), h, g).index;
        if (g.interpolation == GridInterpolation::Nearest) {
          const auto x = static_cast<std::int64_t>(std::nearbyint(ix));
          const auto y = static_cast<std::int64_t>(std::nearbyint(iy));
          const bool ok = inside(y, x, h, w);
          for (std::int64_t c = 0; c < channels; ++c)
            out.at(b, c, oy, ox) = ok ? in.at(b, c, y, x) : T(0);
          continue;
        }
        const T fx = std::floor(ix), fy = std::floor(iy);
        const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
        const T wx1 = ix - fx, wy1 = iy - fy, wx0 = 1 - wx1, wy0 = 1 - wy1;
        const bool nw = inside(y0, x0, h, w), ne = inside(y0, x0 + 1, h, w),
                   sw = inside(y0 + 1, x0, h, w), se = inside(y0 + 1, x0 + 1, h, w);
        for (std::int64_t c = 0; c < channels; ++c) {
          T v = 0;
          if (nw) v += in.at(b, c, y0, x0) * (wx0 * wy0);
          if (ne) v += in.at(b, c, y0, x0 + 1) * (wx1 * wy0);
          if (sw) v += in.at(b, c, y0 + 1, x0) * (wx0 * wy1);
          if (se) v += in.at(b, c, y0 + 1, x0 + 1) * (wx1 * wy1);
          out.at(b, c, oy, ox) = v;
        }
      }
    }
  });
}

template <typename T>
void backward(const GridSample& g, const TensorDesc& grad_output, const TensorDesc& grad_input,
              const TensorDesc& grad_grid) {
  const auto in = view<const T>(g.input);
  const auto grid = view<const T>(g.grid);
  const auto gout = view<const T>(grad_output);
  const auto gin = view<T>(grad_input);
  const auto ggrid = view<T>(grad_grid);
  const std::int64_t n = g.input.sizes[0], channels = g.input.sizes[1], h = g.input.sizes[2],
                     w = g.input.sizes[3], ho = g.grid.sizes[1], wo = g.grid.sizes[2];
  parallel_for(n, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t b = first; b < last; ++b) {
      for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t y = 0; y < h; ++y) {
          for (std::int64_t x = 0; x < w; ++x) gin.at(b, c, y, x) = 0;
        }
      }
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          const Source<T> sx = source_index(grid.at(b, oy, ox, 0), w, g);
          const Source<T> sy = source_index(grid.at(b, oy, ox, 1), h, g);
          if (g.interpolation == GridInterpolation::Nearest) {
            const auto x = static_cast<std::int64_t>(std::nearbyint(sx.index));
            const auto y = static_cast<std::int64_t>(std::nearbyint(sy.index));
            if (inside(y, x, h, w)) {
              for (std::int64_t c = 0; c < channels; ++c)
                gin.at(b, c, y, x) += gout.at(b, c, oy, ox);
            }
            ggrid.at(b, oy, ox, 0) = 0;
            ggrid.at(b, oy, ox, 1) = 0;
            continue;
          }
          const T fx = std::floor(sx.index), fy = std::floor(sy.index);
          const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
          const T wx1 = sx.index - fx, wy1 = sy.index - fy, wx0 = 1 - wx1, wy0 = 1 - wy1;
          T gx = 0, gy = 0;
          // Each corner: its weight's share of the gradient to the input, and the corner value's
          // share to the sampling point's position.
          const auto corner = [&](std::int64_t y, std::int64_t x, T weight, T dweight_dx,
                                  T dweight_dy) {
            if (!inside(y, x, h, w)) return;
            for (std::int64_t c = 0; c < channels; ++c) {
              const T go = gout.at(b, c, oy, ox);
              gin.at(b, c, y, x) += weight * go;
              const T value = in.at(b, c, y, x) * go;
              gx += value * dweight_dx;
              gy += value * dweight_dy;
            }
          };
          corner(y0, x0, wx0 * wy0, -wy0, -wx0);
          corner(y0, x0 + 1, wx1 * wy0, wy0, -wx1);
          corner(y0 + 1, x0, wx0 * wy1, -wy1, wx0);
          corner(y0 + 1, x0 + 1, wx1 * wy1, wy1, wx1);
          ggrid.at(b, oy, ox, 0) = gx * sx.slope;
          ggrid.at(b, oy, ox, 1) = gy * sy.slope;
        }
      }
    }
  });
}

void check(const GridSample& g) {
  if (g.input.ndim != 4 || g.grid.ndim != 4 || g.grid.sizes[3] != 2 ||
      g.grid.sizes[0] != g.input.sizes[0] || g.grid.dtype != g.input.dtype) {
    throw KernelError(
        "grid_sample: expected input [N, C, H, W] and grid [N, Ho, Wo, 2] of one dtype");
  }
}

}  // namespace

void grid_sample(const GridSample& g, const TensorDesc& output) {
  check(g);
  by_float_type(g.input.dtype, "grid_sample", [&]<typename T>(T) { forward<T>(g, output); });
}

void grid_sample_backward(const GridSample& g, const TensorDesc& grad_output,
                          const TensorDesc& grad_input, const TensorDesc& grad_grid) {
  check(g);
  by_float_type(g.input.dtype, "grid_sample",
                [&]<typename T>(T) { backward<T>(g, grad_output, grad_input, grad_grid); });
}

}  // namespace mlu::kernels
