// Max pooling (strided and adaptive windows) with the flat in-plane index of each maximum, and its
// gradient.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "mlu_kernels/parallel.h"
#include "pool_common.h"

namespace mlu::kernels {
namespace {

template <typename C>
constexpr C kLowest = std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity()
                                                           : std::numeric_limits<C>::lowest();

// The maximum of a window's taps and where it is: the first of equal maxima, or the last NaN (as
// PyTorch's CPU kernel). The maximum is a max instruction and its position is chosen with an
// integer mask: GCC compiled selections of both on the comparison into a branch, mispredicted on
// random data (2.5 ms against 0.8 ms on sorted data for ResNet's stem pool).
template <typename C>
struct RunningMax {
  C best = kLowest<C>;
  std::int64_t index;
  bool nan = false;
  C nan_value{};  // the last NaN itself, sign and payload as PyTorch keeps them
  std::int64_t nan_index = 0;

  explicit RunningMax(std::int64_t first) : index(first) {}

  [[gnu::always_inline]] void add(C value, std::int64_t at) {
    const std::int64_t larger = -static_cast<std::int64_t>(value > best);  // all ones or zero
    index = (at & larger) | (index & ~larger);
    best = std::max(best, value);
    if constexpr (std::is_floating_point_v<C>) {
      nan |= value != value;
      nan_index = value != value ? at : nan_index;
      nan_value = value != value ? value : nan_value;  // rare: a branch predicted well
    }
  }
  C value() const { return nan ? nan_value : best; }
  std::int64_t position() const { return nan ? nan_index : index; }
};

// Calls f(d, h, w) for each input position of the window product wd x wh x ww.
template <typename F>
[[gnu::always_inline]] inline void for_each_tap(const Window& wd, const Window& wh,
                                                const Window& ww, F&& f) {
  for (std::int64_t i = 0; i < wd.count; ++i) {
    const std::int64_t d = wd.first + i * wd.step;
    for (std::int64_t j = 0; j < wh.count; ++j) {
      const std::int64_t h = wh.first + j * wh.step;
      for (std::int64_t k = 0; k < ww.count; ++k) f(d, h, ww.first + k * ww.step);
    }
  }
}

// Whether every window is a 2-D one over rows of unit stride without dilation, as in ResNet's
// stem: then row pointers replace three multiplications per tap (1.5x faster on its layer). The
// depth is one in and out (a 3-D pooling of a depth-1 input may pad it to more).
bool plain_rows(const Grid<char>& in, const Windows& windows) {
  if (in.sizes[2] != 1 || in.strides[4] != 1) return false;
  if (windows[0].size() != 1 || windows[0][0].first != 0 || windows[0][0].count != 1) return false;
  for (int dim : {1, 2})
    for (const Window& w : windows[dim])
      if (w.count > 1 && w.step != 1) return false;
  return true;
}

// A stretch of outputs along a row: `count` outputs from `begin` whose windows along the row are
// all K taps wide (K of 2 or 3), each `step` columns right of the one before (1 or 2); k is 0
// for outputs left to RunningMax.
struct RowRun {
  std::int64_t begin, count;
  int k, step;
};

std::vector<RowRun> row_runs(const std::vector<Window>& along_row) {
  std::vector<RowRun> runs;
  const auto size = static_cast<std::int64_t>(along_row.size());
  for (std::int64_t ow = 0; ow < size;) {
    const std::int64_t k = along_row[ow].count;
    std::int64_t end = ow + 1, step = 1;
    if (k == 2 || k == 3) {
      if (end < size && along_row[end].count == k)
        step = along_row[end].first - along_row[ow].first;
      if (step == 1 || step == 2) {
        while (end < size && along_row[end].count == k &&
               along_row[end].first - along_row[end - 1].first == step)
          ++end;
      } else {
        step = 1;
      }
    }
    const int kind = k == 2 || k == 3 ? static_cast<int>(k) : 0;
    if (kind == 0 && !runs.empty() && runs.back().k == 0)
      runs.back().count += end - ow;
    else
      runs.push_back({ow, end - ow, kind, static_cast<int>(step)});
    ow = end;
  }
  return runs;
}

// `count` outputs of one row whose windows are all full K x K, the first with top-left tap
// `top_left` (input position `top_left_position`), each next one S columns right. Each tap is
// loaded for a chunk of outputs at once, so that the maxima and their first taps vectorise across
// the row: ResNet-18's stem pool over 16 x 64 x 32 x 32 took 0.9 ms against 2.6-3.1 ms window by
// window. The value kept is the first tap equal to the maximum (+0 or -0), as RunningMax keeps it;
// an output whose window holds a NaN is left to with_nan(output).
template <int K, int S, std::int64_t kChunk, typename T, typename WithNan>
[[gnu::always_inline]] inline void full_windows_in_row(
    const T* top_left, std::int64_t row_stride, std::int64_t width, std::int64_t top_left_position,
    std::int64_t count, T* value, std::int64_t value_step, std::int64_t* position,
    std::int64_t position_step, WithNan&& with_nan) {
  using C = ComputeType<T>;
  using Flag = std::conditional_t<sizeof(C) == 8, std::uint64_t, std::uint32_t>;  // C's width
  constexpr int kTaps = K * K;
  // The arithmetic runs on whole chunks of kChunk outputs, a chunk's tail padded with its first
  // output's taps: ResNet's stem rows have 15 full windows on 64 x 64 images, fewer than a loop of
  // 16 lanes would take, and 7 on 32 x 32 images (chunks of 8).
  for (std::int64_t first = 0; first < count; first += kChunk) {
    const std::int64_t n = std::min(kChunk, count - first);
    C taps[kTaps][kChunk];
    for (int t = 0; t < kTaps; ++t) {
      const T* src = top_left + (t / K) * row_stride + t % K + first * S;
      for (std::int64_t j = 0; j < n; ++j) taps[t][j] = convert<C>(src[j * S]);
      for (std::int64_t j = n; j < kChunk; ++j) taps[t][j] = taps[t][0];
    }
    C best[kChunk], chosen[kChunk];
    std::int64_t offset[kChunk];
    Flag nan[kChunk];
    for (std::int64_t j = 0; j < kChunk; ++j) best[j] = taps[0][j], nan[j] = 0;
    for (int t = 1; t < kTaps; ++t)
      for (std::int64_t j = 0; j < kChunk; ++j) best[j] = std::max(best[j], taps[t][j]);
    for (int t = 0; t < kTaps; ++t)
      for (std::int64_t j = 0; j < kChunk; ++j) nan[j] |= taps[t][j] != taps[t][j];
    // The first tap equal to the maximum, selected with masks: GCC compiled selections on the
    // comparison into branches, mispredicted on random data.
    for (std::int64_t j = 0; j < kChunk; ++j) chosen[j] = best[j], offset[j] = 0;
    for (int t = kTaps - 1; t >= 0; --t) {
      const std::int64_t tap_offset = (t / K) * width + t % K;
#pragma omp simd
      for (std::int64_t j = 0; j < kChunk; ++j) {
        const std::int64_t equal = -static_cast<std::int64_t>(taps[t][j] == best[j]);
        offset[j] = (tap_offset & equal) | (offset[j] & ~equal);
        chosen[j] = taps[t][j] == best[j] ? taps[t][j] : chosen[j];
      }
    }
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t o = first + j;
      if (nan[j]) {
        with_nan(o);
        continue;
      }
      value[o * value_step] = convert<T>(chosen[j]);
      position[o * position_step] = top_left_position + o * S + offset[j];
    }
  }
}

// Its own loops over planes and rows: written as a for_each_cell body (one call per cell) the
// same pool took 3.8 ms against 2.1 ms. Stretches of full 2 x 2 and 3 x 3 windows take
// full_windows_in_row.
template <typename T>
void max_over_rows(const Grid<T>& out, const Grid<std::int64_t>& indices, const Grid<T>& in,
                   const Windows& windows) {
  using C = ComputeType<T>;
  const std::int64_t channels = out.sizes[1], width = in.sizes[4], row_stride = in.strides[3];
  // The grain counts taps: a window of 9 is 9 elements' work (ResNet-18's stem pool on 16 x 16
  // images ran on one thread when it counted outputs).
  std::int64_t taps = 1;
  for (int dim : {1, 2}) {
    std::int64_t most = 1;
    for (const Window& w : windows[dim]) most = std::max(most, w.count);
    taps *= most;
  }
  const std::int64_t work = std::max<std::int64_t>(out.plane_size(), 1) * taps;
  const std::vector<RowRun> runs = row_runs(windows[2]);
  const std::int64_t value_step = out.strides[4], position_step = indices.strides[4];
  parallel_for(out.sizes[0] * channels, std::max<std::int64_t>(1, kParallelGrain / work),
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t p = first; p < last; ++p) {
                   const std::int64_t n = p / channels, c = p % channels;
                   const T* src = in.plane(n, c);
                   for (std::int64_t oh = 0; oh < out.sizes[3]; ++oh) {
                     const Window& wh = windows[1][oh];
                     T* values = out.plane(n, c) + out.offset(0, oh, 0);
                     std::int64_t* positions = indices.plane(n, c) + indices.offset(0, oh, 0);
                     auto one_by_one = [&](std::int64_t ow) {
                       const Window& ww = windows[2][ow];
                       RunningMax<C> max(wh.first * width + ww.first);
                       for (std::int64_t h = wh.first; h < wh.first + wh.count; ++h) {
                         const T* row = src + h * row_stride;
                         for (std::int64_t w = ww.first; w < ww.first + ww.count; ++w)
                           max.add(convert<C>(row[w]), h * width + w);
                       }
                       values[ow * value_step] = convert<T>(max.value());
                       positions[ow * position_step] = max.position();
                     };
                     for (const RowRun& run : runs) {
                       const Window& ww = windows[2][run.begin];
                       auto full = [&](auto k, auto step) {
                         auto in_chunks = [&](auto chunk) {
                           full_windows_in_row<k(), step(), chunk()>(
                               src + wh.first * row_stride + ww.first, row_stride, width,
                               wh.first * width + ww.first, run.count,
                               values + run.begin * value_step, value_step,
                               positions + run.begin * position_step, position_step,
                               [&](std::int64_t o) { one_by_one(run.begin + o); });
                         };
                         run.count <= 8 ? in_chunks(std::integral_constant<std::int64_t, 8>{})
                                        : in_chunks(std::integral_constant<std::int64_t, 16>{});
                       };
                       using Two = std::integral_constant<int, 2>;
                       using Three = std::integral_constant<int, 3>;
                       using One = std::integral_constant<int, 1>;
                       if (run.k == 0 || wh.count != run.k) {
                         for (std::int64_t ow = run.begin; ow < run.begin + run.count; ++ow)
                           one_by_one(ow);
                       } else if (run.k == 3) {
                         run.step == 2 ? full(Three{}, Two{}) : full(Three{}, One{});
                       } else {
                         run.step == 2 ? full(Two{}, Two{}) : full(Two{}, One{});
                       }
                     }
                   }
                 }
               });
}

// Channels-last operands (channels of a position contiguous): each tap updates every channel's
// running maximum in a loop over channels that vectorises (2x faster than a channel at a time
// on ResNet's stem pool).
template <typename T>
void max_over_channels(const Grid<T>& out, const Grid<std::int64_t>& indices, const Grid<T>& in,
                       const Windows& windows) {
  using C = ComputeType<T>;
  const std::int64_t channels = out.sizes[1], height = in.sizes[3], width = in.sizes[4];
  const std::int64_t rows = out.sizes[0] * out.sizes[2] * out.sizes[3];
  const std::int64_t row_cells = std::max<std::int64_t>(out.sizes[4] * channels, 1);
  parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / row_cells),
               [&](std::int64_t first, std::int64_t last) {
                 std::vector<C> best(channels), nan_value(channels);
                 std::vector<std::int64_t> index(channels), nan_index(channels);
                 std::vector<unsigned char> nan(channels);
                 for (std::int64_t r = first; r < last; ++r) {
                   const std::int64_t n = r / (out.sizes[2] * out.sizes[3]);
                   const std::int64_t od = r / out.sizes[3] % out.sizes[2], oh = r % out.sizes[3];
                   const Window &wd = windows[0][od], &wh = windows[1][oh];
                   for (std::int64_t ow = 0; ow < out.sizes[4]; ++ow) {
                     const Window& ww = windows[2][ow];
                     std::fill(best.begin(), best.end(), kLowest<C>);
                     std::fill(index.begin(), index.end(),
                               (wd.first * height + wh.first) * width + ww.first);
                     std::fill(nan.begin(), nan.end(), 0);
                     for_each_tap(wd, wh, ww,
                                  [&](std::int64_t d, std::int64_t h, std::int64_t w)
                                      [[gnu::always_inline]] {
                                        const T* src = in.plane(n, 0) + in.offset(d, h, w);
                                        const std::int64_t at = (d * height + h) * width + w;
                                        for (std::int64_t c = 0; c < channels; ++c) {
                                          const C value = convert<C>(src[c]);
                                          const bool larger = value > best[c];
                                          index[c] = larger ? at : index[c];
                                          best[c] = larger ? value : best[c];
                                          if constexpr (std::is_floating_point_v<C>) {
                                            const bool is_nan = value != value;
                                            nan_index[c] = is_nan ? at : nan_index[c];
                                            nan_value[c] = is_nan ? value : nan_value[c];
                                            nan[c] |= static_cast<unsigned char>(is_nan);
                                          }
                                        }
                                      });
                     T* dst = out.plane(n, 0) + out.offset(od, oh, ow);
                     std::int64_t* where = indices.plane(n, 0) + indices.offset(od, oh, ow);
                     for (std::int64_t c = 0; c < channels; ++c) {
                       dst[c] = convert<T>(nan[c] ? nan_value[c] : best[c]);
                       where[c] = nan[c] ? nan_index[c] : index[c];
                     }
                   }
                 }
               });
}

template <typename T>
void max_over_windows(const TensorDesc& out_desc, const TensorDesc& indices_desc,
                      const TensorDesc& in_desc, const Windows& windows) {
  using C = ComputeType<T>;
  const Grid<T> out = grid<T>(out_desc), in = grid<T>(in_desc);
  const Grid<std::int64_t> indices = grid<std::int64_t>(indices_desc);
  if (plain_rows(grid<char>(in_desc), windows)) return max_over_rows(out, indices, in, windows);
  if (in.strides[1] == 1 && out.strides[1] == 1 && indices.strides[1] == 1 && in.sizes[1] > 1) {
    return max_over_channels(out, indices, in, windows);
  }
  const std::int64_t height = in.sizes[3], width = in.sizes[4];
  for_each_cell(
      out, [&](std::int64_t n, std::int64_t c, std::int64_t od, std::int64_t oh, std::int64_t ow) {
        const Window &wd = windows[0][od], &wh = windows[1][oh], &ww = windows[2][ow];
        const T* src = in.plane(n, c);
        RunningMax<C> max((wd.first * height + wh.first) * width + ww.first);
        for_each_tap(wd, wh, ww,
                     [&](std::int64_t d, std::int64_t h, std::int64_t w) [[gnu::always_inline]] {
                       max.add(convert<C>(src[in.offset(d, h, w)]), (d * height + h) * width + w);
                     });
        out.plane(n, c)[out.offset(od, oh, ow)] = convert<T>(max.value());
        indices.plane(n, c)[indices.offset(od, oh, ow)] = max.position();
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
