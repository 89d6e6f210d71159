// Region-of-interest poolings. Forward work is split over (roi, output channel) pairs, each
// writing its own output plane; backward work over channels, so that the rois of one image, which
// add into the same gradient plane, never do so from two threads.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "float_operands.h"
#include "mlu_kernels/detection.h"
#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

bool align_kind(RoiKind kind) { return kind == RoiKind::Align || kind == RoiKind::PsAlign; }
bool position_sensitive(RoiKind kind) {
  return kind == RoiKind::PsAlign || kind == RoiKind::PsAvgPool;
}

// Where a roi lies on the feature map: its image, the origin and size of its bins, and for the
// align kinds the samples per bin side.
template <typename T>
struct RoiFrame {
  std::int64_t image = 0;
  T start_h = 0, start_w = 0, bin_h = 0, bin_w = 0;
  std::int64_t grid_h = 0, grid_w = 0;
  T count = 0;  // the samples a bin's sum is divided by
  std::int64_t samples() const {
    return std::max<std::int64_t>(grid_h, 0) * std::max<std::int64_t>(grid_w, 0);
  }
};

template <typename T>
constexpr T kLimit = T(1 << 30);  // keeps absurd coordinates from overflowing an integer

// Rounds a pooling kind's coordinate to a whole pixel, as torchvision's round() then int do.
template <typename T>
std::int64_t whole_pixel(T coordinate) {
  return static_cast<std::int64_t>(std::clamp<T>(std::round(coordinate), -kLimit<T>, kLimit<T>));
}

// Negative for a roi that ends before it starts: torchvision then samples nothing but divides by
// the product of both sides, which may be positive.
template <typename T>
std::int64_t samples_per_side(std::int64_t sampling_ratio, T extent, std::int64_t bins) {
  if (sampling_ratio > 0) return sampling_ratio;
  const T samples = std::ceil(extent / static_cast<T>(bins));
  return std::isfinite(samples)
             ? static_cast<std::int64_t>(std::clamp<T>(samples, -kLimit<T>, kLimit<T>))
             : 0;
}

template <typename T>
RoiFrame<T> roi_frame(const RoiPooling& p, std::int64_t k, std::int64_t images) {
  const T* roi = static_cast<const T*>(p.rois.data) + 5 * k;
  const T scale = static_cast<T>(p.spatial_scale);
  RoiFrame<T> f;
  if (!(roi[0] >= 0 && roi[0] < static_cast<T>(images))) {
    throw KernelError("roi " + std::to_string(k) + " has batch index " +
                      std::to_string(static_cast<double>(roi[0])) + ", not an image of the " +
                      std::to_string(images) + " in the input");
  }
  f.image = static_cast<std::int64_t>(roi[0]);
  if (align_kind(p.kind)) {
    const T offset = p.kind == RoiKind::Align && !p.aligned ? T(0) : T(0.5);
    f.start_w = roi[1] * scale - offset;
    f.start_h = roi[2] * scale - offset;
    T width = roi[3] * scale - offset - f.start_w, height = roi[4] * scale - offset - f.start_h;
    if (p.kind == RoiKind::Align && !p.aligned) {  // malformed rois become 1x1
      width = std::max(width, T(1));
      height = std::max(height, T(1));
    }
    f.bin_h = height / static_cast<T>(p.pooled_height);
    f.bin_w = width / static_cast<T>(p.pooled_width);
    f.grid_h = samples_per_side(p.sampling_ratio, height, p.pooled_height);
    f.grid_w = samples_per_side(p.sampling_ratio, width, p.pooled_width);
    const std::int64_t product = f.grid_h * f.grid_w;
    // RoIAlign outputs zeros for an empty grid; the position-sensitive form divides by zero.
    f.count =
        static_cast<T>(p.kind == RoiKind::Align ? std::max<std::int64_t>(product, 1) : product);
    return f;
  }
  for (int i = 1; i < 5; ++i) {
    if (!std::isfinite(roi[i] * scale)) {
      throw KernelError("roi " + std::to_string(k) + " has a coordinate that is not finite");
    }
  }
  f.start_w = static_cast<T>(whole_pixel(roi[1] * scale));
  f.start_h = static_cast<T>(whole_pixel(roi[2] * scale));
  const std::int64_t extra = p.kind == RoiKind::MaxPool ? 1 : 0;  // RoIPool counts both ends
  const std::int64_t width = std::max<std::int64_t>(
      whole_pixel(roi[3] * scale) - static_cast<std::int64_t>(f.start_w) + extra, 1);
  const std::int64_t height = std::max<std::int64_t>(
      whole_pixel(roi[4] * scale) - static_cast<std::int64_t>(f.start_h) + extra, 1);
  f.bin_h = static_cast<T>(height) / static_cast<T>(p.pooled_height);
  f.bin_w = static_cast<T>(width) / static_cast<T>(p.pooled_width);
  return f;
}

// A bilinear sample: four pixels of a plane and their weights.
template <typename T>
struct Tap {
  bool inside = false;  // samples more than a pixel outside the map read nothing
  std::int64_t pixel[4] = {};
  T weight[4] = {};
};

template <typename T>
Tap<T> bilinear_tap(T y, T x, std::int64_t height, std::int64_t width) {
  Tap<T> tap;
  // Written so that NaN coordinates fail it too.
  if (!(y >= T(-1) && y <= static_cast<T>(height) && x >= T(-1) && x <= static_cast<T>(width))) {
    return tap;
  }
  y = std::max(y, T(0));
  x = std::max(x, T(0));
  std::int64_t y0 = static_cast<std::int64_t>(y), x0 = static_cast<std::int64_t>(x), y1, x1;
  if (y0 >= height - 1) {
    y1 = y0 = height - 1;
    y = static_cast<T>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= width - 1) {
    x1 = x0 = width - 1;
    x = static_cast<T>(x0);
  } else {
    x1 = x0 + 1;
  }
  const T ly = y - static_cast<T>(y0), lx = x - static_cast<T>(x0), hy = T(1) - ly, hx = T(1) - lx;
  tap.inside = true;
  tap.pixel[0] = y0 * width + x0;
  tap.pixel[1] = y0 * width + x1;
  tap.pixel[2] = y1 * width + x0;
  tap.pixel[3] = y1 * width + x1;
  tap.weight[0] = hy * hx;
  tap.weight[1] = hy * lx;
  tap.weight[2] = ly * hx;
  tap.weight[3] = ly * lx;
  return tap;
}

// Every sample of a roi, by bin (row-major) and then by sample in the bin: the same for all the
// channels it pools.
template <typename T>
void sample_taps(const RoiFrame<T>& f, std::int64_t pooled_h, std::int64_t pooled_w,
                 std::int64_t height, std::int64_t width, std::vector<Tap<T>>& taps) {
  taps.clear();
  for (std::int64_t ph = 0; ph < pooled_h; ++ph) {
    for (std::int64_t pw = 0; pw < pooled_w; ++pw) {
      for (std::int64_t iy = 0; iy < f.grid_h; ++iy) {
        const T y = f.start_h + static_cast<T>(ph) * f.bin_h +
                    static_cast<T>(iy + 0.5) * f.bin_h / static_cast<T>(f.grid_h);
        for (std::int64_t ix = 0; ix < f.grid_w; ++ix) {
          const T x = f.start_w + static_cast<T>(pw) * f.bin_w +
                      static_cast<T>(ix + 0.5) * f.bin_w / static_cast<T>(f.grid_w);
          taps.push_back(bilinear_tap(y, x, height, width));
        }
      }
    }
  }
}

// The whole pixels of a pooling kind's bin: [h0, h1) x [w0, w1), clipped to [0, limit_h] and
// [0, limit_w].
struct PixelBin {
  std::int64_t h0, h1, w0, w1;
  bool empty() const { return h1 <= h0 || w1 <= w0; }
  std::int64_t area() const { return (h1 - h0) * (w1 - w0); }
};

template <typename T>
PixelBin pixel_bin(const RoiFrame<T>& f, std::int64_t ph, std::int64_t pw, std::int64_t limit_h,
                   std::int64_t limit_w) {
  const auto clip = [](T offset, T start, std::int64_t limit) {
    return std::clamp<std::int64_t>(
        static_cast<std::int64_t>(offset) + static_cast<std::int64_t>(start), 0, limit);
  };
  return {clip(std::floor(static_cast<T>(ph) * f.bin_h), f.start_h, limit_h),
          clip(std::ceil(static_cast<T>(ph + 1) * f.bin_h), f.start_h, limit_h),
          clip(std::floor(static_cast<T>(pw) * f.bin_w), f.start_w, limit_w),
          clip(std::ceil(static_cast<T>(pw + 1) * f.bin_w), f.start_w, limit_w)};
}

// The geometry shared by forward and backward.
struct Shape {
  std::int64_t images, channels, height, width, rois, channels_out, pooled_h, pooled_w;
  std::int64_t bins() const { return pooled_h * pooled_w; }
  std::int64_t plane() const { return height * width; }
  // The input channel that bin b of output channel c reads.
  std::int64_t input_channel(RoiKind kind, std::int64_t c, std::int64_t b) const {
    return position_sensitive(kind) ? c * bins() + b : c;
  }
};

Shape check_operands(const RoiPooling& p, const TensorDesc& features, const TensorDesc& pooled,
                     const TensorDesc& index) {
  for (const auto& [d, what] : {std::pair{&features, "features"},
                                {&pooled, "pooled output"},
                                {&p.rois, "rois"},
                                {&index, "index"}}) {
    require_contiguous(*d, "roi pooling", what);
  }
  if (features.ndim != 4 || pooled.ndim != 4 || p.rois.ndim != 2 || p.rois.sizes[1] != 5 ||
      features.dtype != pooled.dtype || features.dtype != p.rois.dtype ||
      (p.kind != RoiKind::Align && index.dtype != DType::Int32)) {
    throw KernelError("roi pooling: operands of unexpected shapes or dtypes");
  }
  const Shape s{features.sizes[0], features.sizes[1], features.sizes[2], features.sizes[3],
                p.rois.sizes[0],   pooled.sizes[1],   p.pooled_height,   p.pooled_width};
  const std::int64_t expected_out = position_sensitive(p.kind) ? s.channels / s.bins() : s.channels;
  if (pooled.sizes[0] != s.rois || s.channels_out != expected_out ||
      pooled.sizes[2] != s.pooled_h || pooled.sizes[3] != s.pooled_w) {
    throw KernelError("roi pooling: the pooled output's shape does not match the rois");
  }
  return s;
}

template <typename T>
void forward(const RoiPooling& p, const Shape& s, const T* features, T* out, std::int32_t* index) {
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / (16 * s.bins()));
  parallel_for(s.rois * s.channels_out, grain, [&](std::int64_t first, std::int64_t last) {
    std::vector<Tap<T>> taps;
    std::int64_t tapped = -1;
    RoiFrame<T> f;
    for (std::int64_t item = first; item < last; ++item) {
      const std::int64_t k = item / s.channels_out, c = item % s.channels_out;
      if (k != tapped) {
        f = roi_frame<T>(p, k, s.images);
        if (align_kind(p.kind)) sample_taps(f, s.pooled_h, s.pooled_w, s.height, s.width, taps);
        tapped = k;
      }
      const std::int64_t samples = f.samples();
      for (std::int64_t b = 0; b < s.bins(); ++b) {
        const std::int64_t channel = s.input_channel(p.kind, c, b);
        const T* plane = features + (f.image * s.channels + channel) * s.plane();
        const std::int64_t at = item * s.bins() + b;
        T result = 0;
        if (align_kind(p.kind)) {
          for (std::int64_t i = b * samples; i < (b + 1) * samples; ++i) {
            const Tap<T>& t = taps[i];
            if (t.inside) {
              result += t.weight[0] * plane[t.pixel[0]] + t.weight[1] * plane[t.pixel[1]] +
                        t.weight[2] * plane[t.pixel[2]] + t.weight[3] * plane[t.pixel[3]];
            }
          }
          result /= f.count;
        } else if (p.kind == RoiKind::MaxPool) {
          const PixelBin bin = pixel_bin(f, b / s.pooled_w, b % s.pooled_w, s.height, s.width);
          result = bin.empty() ? T(0) : T(-FLT_MAX);
          std::int32_t argmax = -1;
          for (std::int64_t h = bin.h0; h < bin.h1; ++h) {
            for (std::int64_t w = bin.w0; w < bin.w1; ++w) {
              if (plane[h * s.width + w] > result) {
                result = plane[h * s.width + w];
                argmax = static_cast<std::int32_t>(h * s.width + w);
              }
            }
          }
          index[at] = argmax;
        } else {
          // torchvision's CPU forward clips these bins to the last row and column (its backward
          // and the CUDA kernels do not); kept so that results match the CPU.
          const PixelBin bin =
              pixel_bin(f, b / s.pooled_w, b % s.pooled_w, s.height - 1, s.width - 1);
          for (std::int64_t h = bin.h0; h < bin.h1; ++h) {
            for (std::int64_t w = bin.w0; w < bin.w1; ++w) result += plane[h * s.width + w];
          }
          result = bin.empty() ? T(0) : result / static_cast<T>(bin.area());
        }
        if (position_sensitive(p.kind)) index[at] = static_cast<std::int32_t>(channel);
        out[at] = result;
      }
    }
  });
}

std::string bad_index(RoiKind kind, std::int64_t at, std::int64_t value) {
  return std::string(kind == RoiKind::MaxPool ? "roi_pool backward: argmax "
                                              : "roi pooling backward: channel mapping ") +
         std::to_string(value) + " at " + std::to_string(at) +
         " is not what the forward pass wrote";
}

// Backward over the channels [first, last) of the output (input channels for the plain kinds):
// the gradient planes they own are zeroed, then every roi adds into them.
template <typename T>
void backward_channels(const RoiPooling& p, const Shape& s, const T* grad_out,
                       const std::int32_t* index, T* grad, std::int64_t first, std::int64_t last) {
  const std::int64_t per_channel = position_sensitive(p.kind) ? s.bins() : 1;
  for (std::int64_t n = 0; n < s.images; ++n) {
    T* planes = grad + (n * s.channels + first * per_channel) * s.plane();
    std::fill(planes, planes + (last - first) * per_channel * s.plane(), T(0));
  }
  std::vector<Tap<T>> taps;
  for (std::int64_t k = 0; k < s.rois; ++k) {
    const RoiFrame<T> f = roi_frame<T>(p, k, s.images);
    if (align_kind(p.kind)) sample_taps(f, s.pooled_h, s.pooled_w, s.height, s.width, taps);
    const std::int64_t samples = f.samples();
    for (std::int64_t c = first; c < last; ++c) {
      for (std::int64_t b = 0; b < s.bins(); ++b) {
        const std::int64_t at = (k * s.channels_out + c) * s.bins() + b;
        const std::int64_t channel = s.input_channel(p.kind, c, b);
        if (position_sensitive(p.kind) && index[at] != channel) {
          throw KernelError(bad_index(p.kind, at, index[at]));
        }
        T* plane = grad + (f.image * s.channels + channel) * s.plane();
        const T g = grad_out[at];
        if (align_kind(p.kind)) {
          for (std::int64_t i = b * samples; i < (b + 1) * samples; ++i) {
            const Tap<T>& t = taps[i];
            if (!t.inside) continue;
            for (int j = 0; j < 4; ++j) plane[t.pixel[j]] += g * t.weight[j] / f.count;
          }
        } else if (p.kind == RoiKind::MaxPool) {
          if (index[at] == -1) continue;
          if (index[at] < -1 || index[at] >= s.plane()) {
            throw KernelError(bad_index(p.kind, at, index[at]));
          }
          plane[index[at]] += g;
        } else {
          const PixelBin bin = pixel_bin(f, b / s.pooled_w, b % s.pooled_w, s.height, s.width);
          const T share = bin.empty() ? T(0) : g / static_cast<T>(bin.area());
          for (std::int64_t h = bin.h0; h < bin.h1; ++h) {
            for (std::int64_t w = bin.w0; w < bin.w1; ++w) plane[h * s.width + w] += share;
          }
        }
      }
    }
  }
}

}  // namespace

void roi_pool_forward(const RoiPooling& pooling, const TensorDesc& features,
                      const TensorDesc& output, const TensorDesc& index) {
  const Shape s = check_operands(pooling, features, output, index);
  auto* argmax = static_cast<std::int32_t*>(index.data);
  by_float_type(features.dtype, "roi pooling", [&]<typename T>(T) {
    forward(pooling, s, static_cast<const T*>(features.data), static_cast<T*>(output.data), argmax);
  });
}

void roi_pool_backward(const RoiPooling& pooling, const TensorDesc& grad_output,
                       const TensorDesc& index, const TensorDesc& grad_features) {
  const Shape s = check_operands(pooling, grad_features, grad_output, index);
  const std::int64_t channels = s.channels_out;
  const std::int64_t grain = std::max<std::int64_t>(1, channels / kernel_threads());
  by_float_type(grad_features.dtype, "roi pooling", [&]<typename T>(T) {
    parallel_for(channels, grain, [&](std::int64_t first, std::int64_t last) {
      backward_channels(pooling, s, static_cast<const T*>(grad_output.data),
                        static_cast<const std::int32_t*>(index.data),
                        static_cast<T*>(grad_features.data), first, last);
    });
  });
}

}  // namespace mlu::kernels
