#include "patches.h"

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mlu_kernels/parallel.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

// The outputs along a dim whose input index (o * stride + offset) lies in [0, size).
std::pair<std::int64_t, std::int64_t> inside(std::int64_t outputs, std::int64_t size,
                                             std::int64_t stride, std::int64_t offset) {
  const std::int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const std::int64_t last = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  const std::int64_t begin = std::min(first, outputs);
  return {begin, std::clamp(last, begin, outputs)};
}

// One indexed load per element, however short the image's rows are (ResNet-18's deepest layers
// at 32 x 32 images have 1 x 1 outputs). Padding loads the channel's first element and drops it:
// a load every lane makes lets the loop vectorise (gathers and a blend).
template <typename T>
void gather(const Patches& p, const std::vector<std::int64_t>& offsets, const T* image, T* matrix,
            PatchLayout layout) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(p.columns, 1));
  parallel_for(p.rows, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t r = first; r < last; ++r) {
      const std::int64_t* at = offsets.data() + r % p.taps * p.positions;
      for (std::int64_t n = 0; n < p.batch; ++n) {
        const T* in = image + n * p.batch_stride + r / p.taps * p.channel_stride;
        T* out = matrix + r * layout.row + n * layout.sample;
        if (layout.position == 1) {
          for (std::int64_t l = 0; l < p.positions; ++l) {
            const T v = in[std::max<std::int64_t>(at[l], 0)];
            out[l] = at[l] >= 0 ? v : T(0);
          }
        } else {
          for (std::int64_t l = 0; l < p.positions; ++l)
            out[l * layout.position] = at[l] >= 0 ? in[at[l]] : T(0);
        }
      }
    }
  });
}

template <typename T>
void scatter(const Patches& p, const std::vector<std::int64_t>& offsets, const T* matrix,
             PatchLayout layout, T* image) {
  using C = ComputeType<T>;
  const std::int64_t per_channel = std::max<std::int64_t>(p.taps * p.columns, 1);
  parallel_for(p.channels, std::max<std::int64_t>(1, kParallelGrain / per_channel),
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t c = first; c < last; ++c) {
                   for (std::int64_t n = 0; n < p.batch; ++n) {
                     T* channel = image + n * p.batch_stride + c * p.channel_stride;
                     for (std::int64_t i0 = 0; i0 < p.in[0]; ++i0) {
                       for (std::int64_t i1 = 0; i1 < p.in[1]; ++i1) {
                         T* line = channel + i0 * p.in_stride[0] + i1 * p.in_stride[1];
                         for (std::int64_t i2 = 0; i2 < p.in[2]; ++i2)
                           line[i2 * p.in_stride[2]] = T(0);
                       }
                     }
                   }
                   for (std::int64_t r = c * p.taps; r < (c + 1) * p.taps; ++r) {
                     const std::int64_t* at = offsets.data() + r % p.taps * p.positions;
                     for (std::int64_t n = 0; n < p.batch; ++n) {
                       T* channel = image + n * p.batch_stride + c * p.channel_stride;
                       const T* from = matrix + r * layout.row + n * layout.sample;
                       for (std::int64_t l = 0; l < p.positions; ++l) {
                         if (at[l] < 0) continue;
                         T& to = channel[at[l]];
                         const T add = from[l * layout.position];
                         if constexpr (std::is_same_v<T, bool>)
                           to = to || add;  // as PyTorch CPU adds bools
                         else
                           to = convert<T>(convert<C>(to) + convert<C>(add));
                       }
                     }
                   }
                 }
               });
}

// Calls f(T{}) with the storage type of the dtypes PyTorch's im2col and col2im take.
template <typename F>
void visit_patch_dtype(DType dtype, const char* kernel, F&& f) {
  if (dtype == DType::Bool) return f(bool{});
  visit_floating(dtype, kernel, std::forward<F>(f));
}

}  // namespace

Patches patches_of(const DirectConv& c, const TensorDesc& x, const TensorDesc& w,
                   const TensorDesc& y) {
  Patches p;
  p.batch = x.sizes[0];
  p.channels = x.sizes[1];
  p.batch_stride = x.strides[0];
  p.channel_stride = x.strides[1];
  const int lead = 3 - c.spatial_dims;
  for (int i = 0; i < c.spatial_dims; ++i) {
    const int s = lead + i;
    p.in[s] = x.sizes[i + 2];
    p.in_stride[s] = x.strides[i + 2];
    p.out[s] = y.sizes[i + 2];
    p.kernel[s] = w.sizes[i + 2];
    p.stride[s] = c.stride[i];
    p.dilation[s] = c.dilation[i];
    p.pad[s] = c.pad_before[i];
    p.taps *= p.kernel[s];
    p.positions *= p.out[s];
  }
  p.rows = p.channels * p.taps;
  p.columns = p.batch * p.positions;
  return p;
}

std::vector<std::int64_t> tap_offsets(const Patches& p) {
  std::vector<std::int64_t> offsets(p.taps * p.positions, -1);
  for (std::int64_t tap = 0; tap < p.taps; ++tap) {
    std::array<std::int64_t, 3> offset{}, begin{}, end{};
    std::int64_t rest = tap;
    for (int d = 2; d >= 0; --d) {
      offset[d] = rest % p.kernel[d] * p.dilation[d] - p.pad[d];
      rest /= p.kernel[d];
      std::tie(begin[d], end[d]) = inside(p.out[d], p.in[d], p.stride[d], offset[d]);
    }
    std::int64_t* row = offsets.data() + tap * p.positions;
    for (std::int64_t o0 = begin[0]; o0 < end[0]; ++o0) {
      for (std::int64_t o1 = begin[1]; o1 < end[1]; ++o1) {
        for (std::int64_t o2 = begin[2]; o2 < end[2]; ++o2) {
          row[(o0 * p.out[1] + o1) * p.out[2] + o2] =
              (o0 * p.stride[0] + offset[0]) * p.in_stride[0] +
              (o1 * p.stride[1] + offset[1]) * p.in_stride[1] +
              (o2 * p.stride[2] + offset[2]) * p.in_stride[2];
        }
      }
    }
  }
  return offsets;
}

void gather_patches(const Patches& p, const std::vector<std::int64_t>& offsets, DType dtype,
                    const void* image, void* matrix, PatchLayout layout) {
  visit_patch_dtype(dtype, "im2col", [&](auto tag) {
    using T = decltype(tag);
    gather(p, offsets, static_cast<const T*>(image), static_cast<T*>(matrix), layout);
  });
}

void scatter_patches(const Patches& p, const std::vector<std::int64_t>& offsets, DType dtype,
                     const void* matrix, PatchLayout layout, void* image) {
  visit_patch_dtype(dtype, "col2im", [&](auto tag) {
    using T = decltype(tag);
    scatter(p, offsets, static_cast<const T*>(matrix), layout, static_cast<T*>(image));
  });
}

}  // namespace mlu::kernels
