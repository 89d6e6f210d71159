// Layer norm and group norm: each contiguous row normalised by its own statistics, with a
// per-channel affine transform (see RowNorm in norm.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mlu_kernels/norm.h"
#include "norm_common.h"

namespace mlu::kernels {
namespace {

// The first channel of row r.
std::int64_t first_channel(const RowNorm& n, std::int64_t r) {
  const std::int64_t per_row = n.row_size / n.inner;
  return r % (n.channels / per_row) * per_row;
}

template <typename T>
void forward(const RowNorm& n, const TensorDesc& out, const TensorDesc& in,
             const TensorDesc& mean_desc, const TensorDesc& rstd_desc, double eps) {
  using C = Compute<T>;
  const std::vector<C> weight = load_vector<C>(n.weight, n.channels, 1),
                       bias = load_vector<C>(n.bias, n.channels, 0);
  std::vector<double> means(n.rows), rstds(n.rows);
  for (std::int64_t r = 0; r < n.rows; ++r) {
    const T* x = static_cast<const T*>(in.data) + r * n.row_size;
    T* y = static_cast<T*>(out.data) + r * n.row_size;
    double sum = 0, squares = 0;
    for (std::int64_t j = 0; j < n.row_size; ++j) {
      const double v = convert<double>(x[j]);
      sum += v;
      squares += v * v;
    }
    const double mean = sum / n.row_size;
    const double var = std::max(squares / n.row_size - mean * mean, 0.0);
    const double rstd = 1 / std::sqrt(var + eps);
    means[r] = mean;
    rstds[r] = rstd;
    const std::int64_t channel0 = first_channel(n, r);
    for (std::int64_t j0 = 0; j0 < n.row_size; j0 += n.inner) {
      const std::int64_t c = channel0 + j0 / n.inner;
      const C scale = static_cast<C>(rstd) * weight[c], centre = static_cast<C>(mean);
      // (x - mean) * scale, not x * scale - mean * scale: with fused multiply-adds the latter
      // leaves mean * scale's rounding error where x == mean (amplified by rstd up to 1/sqrt(eps)).
      for (std::int64_t j = j0; j < j0 + n.inner; ++j)
        y[j] = convert<T>((convert<C>(x[j]) - centre) * scale + bias[c]);
    }
  }
  store_vector(mean_desc, means);
  store_vector(rstd_desc, rstds);
}

template <typename T>
void backward(const RowNorm& n, const TensorDesc* grad_in, const TensorDesc* grad_weight,
              const TensorDesc* grad_bias, const TensorDesc& grad_out, const TensorDesc& in,
              const TensorDesc& mean_desc, const TensorDesc& rstd_desc) {
  using C = Compute<T>;
  const std::vector<C> weight = load_vector<C>(n.weight, n.channels, 1);
  const std::vector<double> means = load_vector<double>(mean_desc, n.rows, 0),
                            rstds = load_vector<double>(rstd_desc, n.rows, 1);
  std::vector<double> dweight(n.channels, 0.0), dbias(n.channels, 0.0);
  for (std::int64_t r = 0; r < n.rows; ++r) {
    const T* x = static_cast<const T*>(in.data) + r * n.row_size;
    const T* dy = static_cast<const T*>(grad_out.data) + r * n.row_size;
    const double mean = means[r], rstd = rstds[r];
    const std::int64_t channel0 = first_channel(n, r);
    // Row sums of g = dy * weight and of g * xhat, and the per-channel parameter gradients.
    double sum_g = 0, sum_g_xhat = 0;
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
    if (grad_in == nullptr) continue;
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    T* dx = static_cast<T*>(grad_in->data) + r * n.row_size;
    const double slope = -rstd * rstd * sum_g_xhat / n.row_size;
    const C a = static_cast<C>(rstd), b = static_cast<C>(slope),
            k = static_cast<C>(-rstd * sum_g / n.row_size - slope * mean);
    for (std::int64_t j0 = 0; j0 < n.row_size; j0 += n.inner) {
      const C w = weight[channel0 + j0 / n.inner] * a;
      for (std::int64_t j = j0; j < j0 + n.inner; ++j) {
        dx[j] = convert<T>(w * convert<C>(dy[j]) + b * convert<C>(x[j]) + k);
      }
    }
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
