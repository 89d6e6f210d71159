// Layer norm and group norm: each contiguous row normalised by its own statistics, with a
// per-channel affine transform (see RowNorm in norm.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "convert_block.h"
#include "mlu_kernels/norm.h"
#include "mlu_kernels/parallel.h"
#include "norm_common.h"

namespace mlu::kernels {
namespace {

// The first channel of row r.
std::int64_t first_channel(const RowNorm& n, std::int64_t r) {
  const std::int64_t per_row = n.row_size / n.inner;
  return r % (n.channels / per_row) * per_row;
}

// Rows per parallel chunk: enough elements to be worth waking a helper thread.
std::int64_t row_grain(const RowNorm& n) {
  return std::max<std::int64_t>(1, kParallelGrain / n.row_size);
}

// Sum and sum of squares in double. The simd reduction lets the compiler reassociate the sums
// across vector lanes, which strict floating point otherwise forbids.
template <typename T>
std::pair<double, double> sum_and_squares(const T* x, std::int64_t n) {
  double sum = 0, squares = 0;
#pragma omp simd reduction(+ : sum, squares)
  for (std::int64_t j = 0; j < n; ++j) {
    const double v = convert<double>(x[j]);
    sum += v;
    squares += v * v;
  }
  return {sum, squares};
}

// Normalises one row of x into y (T, or float for a widened 16-bit row); returns its mean and
// reciprocal standard deviation.
template <typename X, typename C>
std::pair<double, double> forward_row(const RowNorm& n, std::int64_t r, const X* x, X* y,
                                      const std::vector<C>& weight, const std::vector<C>& bias,
                                      double eps) {
  const auto [sum, squares] = sum_and_squares(x, n.row_size);
  const double mean = sum / n.row_size;
  const double var = std::max(squares / n.row_size - mean * mean, 0.0);
  const double rstd = 1 / std::sqrt(var + eps);
  const std::int64_t channel0 = first_channel(n, r);
  const C centre = static_cast<C>(mean), row_scale = static_cast<C>(rstd);
  // (x - mean) * scale, not x * scale - mean * scale: with fused multiply-adds the latter
  // leaves mean * scale's rounding error where x == mean (amplified by rstd up to 1/sqrt(eps)).
  if (n.inner == 1) {  // layer norm: a channel per element
    const C* w = weight.data() + channel0;
    const C* b = bias.data() + channel0;
    for (std::int64_t j = 0; j < n.row_size; ++j)
      y[j] = convert<X>((convert<C>(x[j]) - centre) * (row_scale * w[j]) + b[j]);
    return {mean, rstd};
  }
  for (std::int64_t j0 = 0; j0 < n.row_size; j0 += n.inner) {
    const std::int64_t c = channel0 + j0 / n.inner;
    const C scale = row_scale * weight[c];
    for (std::int64_t j = j0; j < j0 + n.inner; ++j)
      y[j] = convert<X>((convert<C>(x[j]) - centre) * scale + bias[c]);
  }
  return {mean, rstd};
}

// 16-bit rows are widened to float once (convert_block's vector conversions) and the results
// rounded back once: converting each element where it is used, as the float passes read it,
// made float16 layer and group norm 2.6-3.1x float32's time on AVX2 and bfloat16 1.6-2.3x. The
// values are the same: the float passes compute in float either way. The forward widens its
// input (a); the backward also its output gradient (b).
template <typename T>
struct RowBuffers {
  RowBuffers(std::int64_t row_size, bool backward) {
    if constexpr (kReducedFloat<T>) {
      a.resize(row_size), out.resize(row_size);
      if (backward) b.resize(row_size);
    }
  }
  std::vector<float> a, b, out;
};

template <typename T>
void forward(const RowNorm& n, const TensorDesc& out, const TensorDesc& in,
             const TensorDesc& mean_desc, const TensorDesc& rstd_desc, double eps) {
  using C = Compute<T>;
  const std::vector<C> weight = load_vector<C>(n.weight, n.channels, 1),
                       bias = load_vector<C>(n.bias, n.channels, 0);
  std::vector<double> means(n.rows), rstds(n.rows);
  parallel_for(n.rows, row_grain(n), [&](std::int64_t begin, std::int64_t end) {
    RowBuffers<T> row(n.row_size, /*backward=*/false);
    for (std::int64_t r = begin; r < end; ++r) {
      const T* x = static_cast<const T*>(in.data) + r * n.row_size;
      T* y = static_cast<T*>(out.data) + r * n.row_size;
      if constexpr (kReducedFloat<T>) {
        convert_block(row.a.data(), x, n.row_size);
        std::tie(means[r], rstds[r]) =
            forward_row(n, r, row.a.data(), row.out.data(), weight, bias, eps);
        convert_block(y, row.out.data(), n.row_size);
      } else {
        std::tie(means[r], rstds[r]) = forward_row(n, r, x, y, weight, bias, eps);
      }
    }
  });
  store_vector(mean_desc, means);
  store_vector(rstd_desc, rstds);
}

// Layer norm's backward over one row: adds the per-element parameter gradients to dw and db and
// returns the row sums of g * w and g * xhat * w.
template <typename T, typename C>
std::pair<double, double> layer_norm_row_sums(std::int64_t n, const T* __restrict x,
                                              const T* __restrict dy, const C* __restrict w,
                                              double mean, double rstd, double* __restrict dw,
                                              double* __restrict db) {
  double sum_g = 0, sum_g_xhat = 0;
#pragma omp simd reduction(+ : sum_g, sum_g_xhat)
  for (std::int64_t j = 0; j < n; ++j) {
    const double g = convert<double>(dy[j]), xhat = (convert<double>(x[j]) - mean) * rstd;
    db[j] += g;
    dw[j] += g * xhat;
    sum_g += g * w[j];
    sum_g_xhat += g * xhat * w[j];
  }
  return {sum_g, sum_g_xhat};
}

// One row's backward: adds its parameter gradients to dweight and dbias (indexed by channel),
// writes dx when asked.
template <typename T, typename C>
void backward_row(const RowNorm& n, std::int64_t r, const T* x, const T* dy, T* dx, double mean,
                  double rstd, const std::vector<C>& weight, double* dweight, double* dbias) {
  const std::int64_t channel0 = first_channel(n, r);
  // Row sums of g = dy * weight and of g * xhat.
  double sum_g = 0, sum_g_xhat = 0;
  if (n.inner == 1) {
    std::tie(sum_g, sum_g_xhat) =
        layer_norm_row_sums(n.row_size, x, dy, weight.data() + channel0, mean, rstd,
                            dweight + channel0, dbias + channel0);
  } else {
    for (std::int64_t j0 = 0; j0 < n.row_size; j0 += n.inner) {
      const std::int64_t c = channel0 + j0 / n.inner;
      double channel_dy = 0, channel_dy_xhat = 0;
      for (std::int64_t j = j0; j < j0 + n.inner; ++j) {
        const double g = convert<double>(dy[j]), xhat = (convert<double>(x[j]) - mean) * rstd;
        channel_dy += g;
        channel_dy_xhat += g * xhat;
      }
      dbias[c] += channel_dy;
      dweight[c] += channel_dy_xhat;
      sum_g += channel_dy * weight[c];
      sum_g_xhat += channel_dy_xhat * weight[c];
    }
  }
  if (dx == nullptr) return;
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
  const double slope = -rstd * rstd * sum_g_xhat / n.row_size;
  const C a = static_cast<C>(rstd), b = static_cast<C>(slope),
          k = static_cast<C>(-rstd * sum_g / n.row_size - slope * mean);
  if (n.inner == 1) {
    const C* w = weight.data() + channel0;
    for (std::int64_t j = 0; j < n.row_size; ++j)
      dx[j] = convert<T>(w[j] * a * convert<C>(dy[j]) + b * convert<C>(x[j]) + k);
    return;
  }
  for (std::int64_t j0 = 0; j0 < n.row_size; j0 += n.inner) {
    const C w = weight[channel0 + j0 / n.inner] * a;
    for (std::int64_t j = j0; j < j0 + n.inner; ++j)
      dx[j] = convert<T>(w * convert<C>(dy[j]) + b * convert<C>(x[j]) + k);
  }
}

template <typename T>
void backward(const RowNorm& n, const TensorDesc* grad_in, const TensorDesc* grad_weight,
              const TensorDesc* grad_bias, const TensorDesc& grad_out, const TensorDesc& in,
              const TensorDesc& mean_desc, const TensorDesc& rstd_desc) {
  using C = Compute<T>;
  const std::vector<C> weight = load_vector<C>(n.weight, n.channels, 1);
  const std::vector<double> means = load_vector<double>(mean_desc, n.rows, 0),
                            rstds = load_vector<double>(rstd_desc, n.rows, 1);
  // Rows go in a fixed number of blocks, each with its own parameter-gradient partial sums,
  // added in block order at the end: the result does not depend on the threads.
  constexpr std::int64_t kMaxBlocks = 16;
  const std::int64_t block_rows = std::max(row_grain(n), (n.rows + kMaxBlocks - 1) / kMaxBlocks);
  const std::int64_t blocks = (n.rows + block_rows - 1) / block_rows;
  std::vector<double> partials(2 * blocks * n.channels, 0.0);  // per block: dweight, dbias
  parallel_for(blocks, 1, [&](std::int64_t first, std::int64_t last) {
    RowBuffers<T> row(n.row_size, /*backward=*/true);
    for (std::int64_t blk = first; blk < last; ++blk) {
      double* dweight = partials.data() + 2 * blk * n.channels;
      double* dbias = dweight + n.channels;
      for (std::int64_t r = blk * block_rows; r < std::min(n.rows, (blk + 1) * block_rows); ++r) {
        const std::int64_t offset = r * n.row_size;
        const T* x = static_cast<const T*>(in.data) + offset;
        const T* dy = static_cast<const T*>(grad_out.data) + offset;
        T* dx = grad_in ? static_cast<T*>(grad_in->data) + offset : nullptr;
        if constexpr (kReducedFloat<T>) {
          convert_block(row.a.data(), x, n.row_size);
          convert_block(row.b.data(), dy, n.row_size);
          backward_row(n, r, row.a.data(), row.b.data(), dx ? row.out.data() : nullptr, means[r],
                       rstds[r], weight, dweight, dbias);
          if (dx != nullptr) convert_block(dx, row.out.data(), n.row_size);
        } else {
          backward_row(n, r, x, dy, dx, means[r], rstds[r], weight, dweight, dbias);
        }
      }
    }
  });
  std::vector<double> dweight(n.channels, 0.0), dbias(n.channels, 0.0);
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const double* part = partials.data() + 2 * blk * n.channels;
    for (std::int64_t c = 0; c < n.channels; ++c)
      dweight[c] += part[c], dbias[c] += part[n.channels + c];
  }
  if (grad_weight != nullptr) store_vector(*grad_weight, dweight);
  if (grad_bias != nullptr) store_vector(*grad_bias, dbias);
}

void check(const RowNorm& n, const TensorDesc& data, const TensorDesc& mean, const TensorDesc& rstd,
           const char* kernel) {
  const bool valid = n.rows >= 0 && n.row_size > 0 && n.inner > 0 && n.row_size % n.inner == 0 &&
                     n.channels % (n.row_size / n.inner) == 0 &&
                     data.numel() == n.rows * n.row_size && mean.ndim == 1 &&
                     mean.sizes[0] == n.rows && rstd.ndim == 1 && rstd.sizes[0] == n.rows;
  if (!valid) throw KernelError(std::string(kernel) + ": inconsistent row layout");
}

}  // namespace

void row_norm(const RowNorm& n, const TensorDesc& out, const TensorDesc& in, const TensorDesc& mean,
              const TensorDesc& rstd, double eps) {
  check(n, in, mean, rstd, "row_norm");
  visit_floating(in.dtype, "row_norm",
                 [&](auto tag) { forward<decltype(tag)>(n, out, in, mean, rstd, eps); });
}

void row_norm_backward(const RowNorm& n, const TensorDesc* grad_in, const TensorDesc* grad_weight,
                       const TensorDesc* grad_bias, const TensorDesc& grad_out,
                       const TensorDesc& in, const TensorDesc& mean, const TensorDesc& rstd) {
  check(n, in, mean, rstd, "row_norm_backward");
  visit_floating(in.dtype, "row_norm_backward", [&](auto tag) {
    backward<decltype(tag)>(n, grad_in, grad_weight, grad_bias, grad_out, in, mean, rstd);
  });
}

}  // namespace mlu::kernels
