// Deformable convolution's sampling, as torchvision's CPU kernels sample. Work is split over
// (image, channel) pairs, each writing its own rows or planes, so no two threads add into one.
#include "mlu_kernels/deform_conv.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "float_operands.h"
#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

template <typename T>
struct Sampler {
  const DeformConv& conv;
  std::int64_t images, channels, height, width, out_h, out_w, taps, group_channels;

  std::int64_t positions() const { return out_h * out_w; }
  std::int64_t plane() const { return height * width; }
  const T* input_plane(std::int64_t n, std::int64_t c) const {
    return static_cast<const T*>(conv.input.data) + (n * channels + c) * plane();
  }

  // Where tap k of offset group g samples image n for output position p, and its mask.
  struct Point {
    T y, x, weight;
  };
  Point point(std::int64_t n, std::int64_t g, std::int64_t k, std::int64_t p) const {
    const std::int64_t i = k / conv.kernel_w, j = k % conv.kernel_w;
    const std::int64_t oy = p / out_w, ox = p % out_w;
    const T* offset = static_cast<const T*>(conv.offset.data) +
                      ((n * conv.offset_groups + g) * 2 * taps + 2 * k) * positions() + p;
    const T weight =
        conv.use_mask
            ? static_cast<const T*>(
                  conv.mask.data)[((n * conv.offset_groups + g) * taps + k) * positions() + p]
            : T(1);
    return {
        static_cast<T>(oy * conv.stride_h - conv.pad_h + i * conv.dilation_h) + offset[0],
        static_cast<T>(ox * conv.stride_w - conv.pad_w + j * conv.dilation_w) + offset[positions()],
        weight};
  }

  // The bilinear sample of a plane; pixels outside the plane read as zero.
  T sample(const T* plane_data, T y, T x) const {
    if (!(y > T(-1) && y < static_cast<T>(height) && x > T(-1) && x < static_cast<T>(width))) {
      return T(0);
    }
    const auto y0 = static_cast<std::int64_t>(std::floor(y)),
               x0 = static_cast<std::int64_t>(std::floor(x));
    const T ly = y - static_cast<T>(y0), lx = x - static_cast<T>(x0), hy = T(1) - ly,
            hx = T(1) - lx;
    const auto at = [&](std::int64_t py, std::int64_t px) {
      return py >= 0 && px >= 0 && py < height && px < width ? plane_data[py * width + px] : T(0);
    };
    return hy * hx * at(y0, x0) + hy * lx * at(y0, x0 + 1) + ly * hx * at(y0 + 1, x0) +
           ly * lx * at(y0 + 1, x0 + 1);
  }

  // The derivative of the sample along y (or x), as torchvision's kernels take it.
  T slope(const T* plane_data, T y, T x, bool along_y) const {
    // Beyond these bounds every pixel it would read is outside the plane.
    if (!(y > T(-2) && y < static_cast<T>(height + 1) && x > T(-2) &&
          x < static_cast<T>(width + 1))) {
      return T(0);
    }
    const auto y0 = static_cast<std::int64_t>(std::floor(y)),
               x0 = static_cast<std::int64_t>(std::floor(x));
    const auto at = [&](std::int64_t py, std::int64_t px) {
      return py >= 0 && px >= 0 && py < height && px < width ? plane_data[py * width + px] : T(0);
    };
    const T v00 = at(y0, x0), v01 = at(y0, x0 + 1), v10 = at(y0 + 1, x0), v11 = at(y0 + 1, x0 + 1);
    if (along_y) {
      const T dx = x - static_cast<T>(x0);
      return dx * (v11 - v01) + (T(1) - dx) * (v10 - v00);
    }
    const T dy = y - static_cast<T>(y0);
    return dy * (v11 - v10) + (T(1) - dy) * (v01 - v00);
  }
};

// A gradient operand: contiguous, with the dtype and size of what it is the gradient of.
void require_like(const TensorDesc& d, const TensorDesc& like, const char* what) {
  require_contiguous(d, "deform_conv2d", what);
  if (d.dtype != like.dtype || d.numel() != like.numel()) {
    throw KernelError(std::string("deform_conv2d: ") + what + " does not match its operand");
  }
}

template <typename T>
Sampler<T> sampler(const DeformConv& c, const TensorDesc& columns) {
  const TensorDesc& in = c.input;
  const std::int64_t taps = c.kernel_h * c.kernel_w, groups = c.offset_groups;
  require_contiguous(in, "deform_conv2d", "input");
  require_contiguous(c.offset, "deform_conv2d", "offset");
  require_contiguous(columns, "deform_conv2d", "columns");
  if (c.use_mask) require_contiguous(c.mask, "deform_conv2d", "mask");
  if (in.ndim != 4 || c.offset.ndim != 4 || c.offset.dtype != in.dtype ||
      columns.dtype != in.dtype || (c.use_mask && c.mask.dtype != in.dtype) || groups <= 0 ||
      in.sizes[1] % groups != 0 || c.offset.sizes[0] != in.sizes[0] ||
      c.offset.sizes[1] != 2 * groups * taps ||
      (c.use_mask &&
       (c.mask.ndim != 4 || c.mask.sizes[0] != in.sizes[0] || c.mask.sizes[1] != groups * taps ||
        c.mask.sizes[2] != c.offset.sizes[2] || c.mask.sizes[3] != c.offset.sizes[3])) ||
      columns.numel() != in.sizes[0] * in.sizes[1] * taps * c.offset.sizes[2] * c.offset.sizes[3]) {
    throw KernelError("deform_conv2d: operands of inconsistent shapes");
  }
  return {c,
          in.sizes[0],
          in.sizes[1],
          in.sizes[2],
          in.sizes[3],
          c.offset.sizes[2],
          c.offset.sizes[3],
          taps,
          in.sizes[1] / groups};
}

template <typename T>
void im2col(const DeformConv& conv, const TensorDesc& columns) {
  const Sampler<T> s = sampler<T>(conv, columns);
  T* out = static_cast<T*>(columns.data);
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / (s.taps * s.positions()));
  parallel_for(s.images * s.channels, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t item = first; item < last; ++item) {
      const std::int64_t n = item / s.channels, c = item % s.channels, g = c / s.group_channels;
      const T* plane = s.input_plane(n, c);
      T* rows = out + item * s.taps * s.positions();
      for (std::int64_t k = 0; k < s.taps; ++k) {
        for (std::int64_t p = 0; p < s.positions(); ++p) {
          const auto pt = s.point(n, g, k, p);
          rows[k * s.positions() + p] = pt.weight * s.sample(plane, pt.y, pt.x);
        }
      }
    }
  });
}

template <typename T>
void col2im(const DeformConv& conv, const TensorDesc& grad_columns, const TensorDesc& grad_input) {
  const Sampler<T> s = sampler<T>(conv, grad_columns);
  require_like(grad_input, conv.input, "grad_input");
  const T* cols = static_cast<const T*>(grad_columns.data);
  T* grad = static_cast<T*>(grad_input.data);
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / (s.taps * s.positions()));
  parallel_for(s.images * s.channels, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t item = first; item < last; ++item) {
      const std::int64_t n = item / s.channels, c = item % s.channels, g = c / s.group_channels;
      T* plane = grad + item * s.plane();
      std::fill(plane, plane + s.plane(), T(0));
      const T* rows = cols + item * s.taps * s.positions();
      for (std::int64_t k = 0; k < s.taps; ++k) {
        for (std::int64_t p = 0; p < s.positions(); ++p) {
          const auto pt = s.point(n, g, k, p);
          if (!(pt.y > T(-1) && pt.y < static_cast<T>(s.height) && pt.x > T(-1) &&
                pt.x < static_cast<T>(s.width))) {
            continue;  // no pixel within one of it
          }
          const T g_col = rows[k * s.positions() + p];
          const auto y0 = static_cast<std::int64_t>(pt.y), x0 = static_cast<std::int64_t>(pt.x);
          for (std::int64_t py = y0 - 1; py <= y0 + 1; ++py) {
            for (std::int64_t px = x0 - 1; px <= x0 + 1; ++px) {
              const T fy = std::abs(pt.y - static_cast<T>(py)),
                      fx = std::abs(pt.x - static_cast<T>(px));
              if (py < 0 || py >= s.height || px < 0 || px >= s.width || fy >= T(1) || fx >= T(1)) {
                continue;
              }
              plane[py * s.width + px] += pt.weight * ((T(1) - fy) * (T(1) - fx)) * g_col;
            }
          }
        }
      }
    }
  });
}

template <typename T>
void col2im_coord(const DeformConv& conv, const TensorDesc& grad_columns,
                  const TensorDesc& grad_offset, const TensorDesc& grad_mask) {
  const Sampler<T> s = sampler<T>(conv, grad_columns);
  require_like(grad_offset, conv.offset, "grad_offset");
  if (conv.use_mask) require_like(grad_mask, conv.mask, "grad_mask");
  const T* cols = static_cast<const T*>(grad_columns.data);
  const std::int64_t offset_channels = 2 * conv.offset_groups * s.taps;
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / (s.group_channels * s.positions()));
  parallel_for(s.images * offset_channels, grain, [&](std::int64_t first, std::int64_t last) {
    std::vector<T> offset_sum(s.positions()), mask_sum(s.positions());
    for (std::int64_t item = first; item < last; ++item) {
      const std::int64_t n = item / offset_channels, oc = item % offset_channels;
      const std::int64_t g = oc / (2 * s.taps), k = (oc % (2 * s.taps)) / 2;
      const bool along_y = oc % 2 == 0, with_mask = conv.use_mask && along_y;
      std::fill(offset_sum.begin(), offset_sum.end(), T(0));
      std::fill(mask_sum.begin(), mask_sum.end(), T(0));
      for (std::int64_t c = g * s.group_channels; c < (g + 1) * s.group_channels; ++c) {
        const T* plane = s.input_plane(n, c);
        const T* row = cols + ((n * s.channels + c) * s.taps + k) * s.positions();
        for (std::int64_t p = 0; p < s.positions(); ++p) {
          const auto pt = s.point(n, g, k, p);
          offset_sum[p] += pt.weight * s.slope(plane, pt.y, pt.x, along_y) * row[p];
          if (with_mask) mask_sum[p] += row[p] * s.sample(plane, pt.y, pt.x);
        }
      }
      std::copy(offset_sum.begin(), offset_sum.end(),
                static_cast<T*>(grad_offset.data) + item * s.positions());
      if (with_mask) {
        std::copy(mask_sum.begin(), mask_sum.end(),
                  static_cast<T*>(grad_mask.data) +
                      ((n * conv.offset_groups + g) * s.taps + k) * s.positions());
      }
    }
  });
}

}  // namespace

void deform_im2col(const DeformConv& conv, const TensorDesc& columns) {
  by_float_type(conv.input.dtype, "deform_conv2d",
                [&]<typename T>(T) { im2col<T>(conv, columns); });
}

void deform_col2im(const DeformConv& conv, const TensorDesc& grad_columns,
                   const TensorDesc& grad_input) {
  by_float_type(conv.input.dtype, "deform_conv2d",
                [&]<typename T>(T) { col2im<T>(conv, grad_columns, grad_input); });
}

void deform_col2im_coord(const DeformConv& conv, const TensorDesc& grad_columns,
                         const TensorDesc& grad_offset, const TensorDesc& grad_mask) {
  by_float_type(conv.input.dtype, "deform_conv2d", [&]<typename T>(T) {
    col2im_coord<T>(conv, grad_columns, grad_offset, grad_mask);
  });
}

}  // namespace mlu::kernels
