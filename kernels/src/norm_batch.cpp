// Batch normalisation on [N, C, S] views. Loops follow the input's layout: planes of S when space
// is innermost (contiguous), rows of C otherwise (channels-last, or S == 1).
#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "float32_copy.h"
#include "mlu_kernels/norm.h"
#include "mlu_kernels/parallel.h"
#include "norm_common.h"

namespace mlu::kernels {
namespace {

// An [N, C, S] operand: element (n, c, s) at data + n * sn + c * sc + s * ss.
template <typename T>
struct View {
  T* data;
  std::int64_t sn, sc, ss;
  T& at(std::int64_t n, std::int64_t c, std::int64_t s) const {
    return data[n * sn + c * sc + s * ss];
  }
};

template <typename T>
View<T> view(const TensorDesc& d) {
  return View<T>{static_cast<T*>(d.data), d.strides[0], d.strides[1], d.strides[2]};
}

struct Shape {
  std::int64_t n, c, s;
  bool planar;  // space innermost in the input
};

Shape shape_of(const TensorDesc& in) {
  return Shape{in.sizes[0], in.sizes[1], in.sizes[2], in.sizes[2] > 1 && in.strides[2] == 1};
}

// Calls f(channel, n, s) over every element; f may only touch its element and state of its
// channel. Planar inputs run channels in parallel, each channel's elements in memory order (so
// per-channel sums add in the same order whatever the threads); channels-last ones run in
// memory order on the calling thread. Inlined, with f, into its caller, so that f compiles for
// the caller's target (see fused_multiply_add).
template <typename F>
[[gnu::always_inline]] inline void for_each_element(const Shape& shape, F&& f) {
  if (shape.planar) {
    const std::int64_t per_channel = std::max<std::int64_t>(1, shape.n * shape.s);
    parallel_for(shape.c, std::max<std::int64_t>(1, kParallelGrain / per_channel),
                 [&](std::int64_t first, std::int64_t last) {
                   for (std::int64_t c = first; c < last; ++c)
                     for (std::int64_t n = 0; n < shape.n; ++n)
                       for (std::int64_t s = 0; s < shape.s; ++s) f(c, n, s);
                 });
  } else {
    for (std::int64_t n = 0; n < shape.n; ++n)
      for (std::int64_t s = 0; s < shape.s; ++s)
        for (std::int64_t c = 0; c < shape.c; ++c) f(c, n, s);
  }
}

// Calls f(row, n, s) for each row of channels (space not innermost: channels-last, or S == 1) in
// parallel: for the elementwise passes, whose rows are independent.
template <typename F>
[[gnu::always_inline]] inline void for_each_row(const Shape& shape, F&& f) {
  const std::int64_t row = std::max<std::int64_t>(1, shape.c);  // C == 0: empty rows, no division
  parallel_for(shape.n * shape.s, std::max<std::int64_t>(1, kParallelGrain / row),
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t r = first; r < last; ++r) f(r / shape.s, r % shape.s);
               });
}

// Per channel, the sums in double of the K terms term(c, n, s) returns (PyTorch's CPU kernel sums
// in double too, so the float mean and variance match its in-order sums but where a double
// rounding decides a tie). Planar inputs with planes of at least kLanes elements add each plane
// in kLanes lanes (element s of a plane into lane s % kLanes), which vectorise, and the lanes in
// order at the end: the order is fixed whatever the threads and addresses. Smaller planes sum
// kChannelsAtOnce channels side by side, so that one channel's additions do not wait for each
// other (a double addition takes 3-4 cycles). Rows of channels (channels-last inputs, planes of
// one element) add in memory order, a row's channels side by side in vector lanes.
template <int K, typename Term>
void channel_sums(const Shape& shape, std::array<std::vector<double>, K>& sums, Term&& term) {
  for (auto& v : sums) v.assign(shape.c, 0.0);
  const std::int64_t per_channel = std::max<std::int64_t>(1, shape.n * shape.s);
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / per_channel);
  if (!shape.planar) {
    parallel_for(shape.c, grain, [&](std::int64_t first, std::int64_t last) {
      // Local sums: threads writing sums[k] would share the cache line at their boundary.
      std::array<std::vector<double>, K> local;
      std::array<double*, K> acc;
      for (int k = 0; k < K; ++k) {
        local[k].assign(last - first, 0.0);
        acc[k] = local[k].data();
      }
      for (std::int64_t n = 0; n < shape.n; ++n)
        for (std::int64_t s = 0; s < shape.s; ++s)
#pragma omp simd
          for (std::int64_t i = 0; i < last - first; ++i) {
            const std::array<double, K> t = term(first + i, n, s);
            for (int k = 0; k < K; ++k) acc[k][i] += t[k];
          }
      for (int k = 0; k < K; ++k) std::copy(local[k].begin(), local[k].end(), &sums[k][first]);
    });
    return;
  }
  constexpr std::int64_t kLanes = 16;
  auto sum_in_lanes = [&](std::int64_t c) [[gnu::always_inline]] {
    std::array<std::array<double, kLanes>, K> lanes{};
    for (std::int64_t n = 0; n < shape.n; ++n) {
      std::int64_t s = 0;
      for (; s + kLanes <= shape.s; s += kLanes)
        for (std::int64_t l = 0; l < kLanes; ++l) {
          const std::array<double, K> t = term(c, n, s + l);
          for (int k = 0; k < K; ++k) lanes[k][l] += t[k];
        }
      for (std::int64_t l = 0; s < shape.s; ++s, ++l) {
        const std::array<double, K> t = term(c, n, s);
        for (int k = 0; k < K; ++k) lanes[k][l] += t[k];
      }
    }
    for (int k = 0; k < K; ++k)
      for (std::int64_t l = 0; l < kLanes; ++l) sums[k][c] += lanes[k][l];
  };
  constexpr std::int64_t kChannelsAtOnce = 8 / K;
  auto sum_channels = [&]<std::int64_t G>(std::int64_t first) [[gnu::always_inline]] {
    std::array<std::array<double, K>, G> acc{};
    for (std::int64_t n = 0; n < shape.n; ++n)
      for (std::int64_t s = 0; s < shape.s; ++s)
        for (std::int64_t g = 0; g < G; ++g) {
          const std::array<double, K> t = term(first + g, n, s);
          for (int k = 0; k < K; ++k) acc[g][k] += t[k];
        }
    for (std::int64_t g = 0; g < G; ++g)
      for (int k = 0; k < K; ++k) sums[k][first + g] = acc[g][k];
  };
  parallel_for(shape.c, grain, [&](std::int64_t first, std::int64_t last) {
    std::int64_t c = first;
    if (shape.s >= kLanes) {
      for (; c < last; ++c) sum_in_lanes(c);
      return;
    }
    for (; c + kChannelsAtOnce <= last; c += kChannelsAtOnce)
      sum_channels.template operator()<kChannelsAtOnce>(c);
    for (; c < last; ++c) sum_channels.template operator()<1>(c);
  });
}

// PyTorch's vectorised CPU kernels compute a * b + c with a single rounding (FMA) on processors
// that have it, and with two otherwise; the elementwise passes follow whichever the host does.
bool host_has_fma() {
  static const bool fma = __builtin_cpu_supports("fma");
  return fma;
}

template <bool fused, typename C>
[[gnu::always_inline]] inline C multiply_add(C a, C b, C c) {
  if constexpr (fused) {
    return std::fma(a, b, c);
  } else {
    return a * b + c;
  }
}

// out = in * alpha[c] + beta[c]
template <typename T, bool fused>
[[gnu::always_inline]] inline void affine(const TensorDesc& out_desc, const TensorDesc& in_desc,
                                          const std::vector<Compute<T>>& alpha,
                                          const std::vector<Compute<T>>& beta) {
  using C = Compute<T>;
  const View<T> out = view<T>(out_desc), in = view<T>(in_desc);
  const Shape shape = shape_of(in_desc);
  if (shape.planar && out_desc.strides[2] == 1) {  // the common contiguous case, vectorised
    const std::int64_t per_channel = std::max<std::int64_t>(1, shape.n * shape.s);
    parallel_for(shape.c, std::max<std::int64_t>(1, kParallelGrain / per_channel),
                 [&](std::int64_t first, std::int64_t last) {
                   for (std::int64_t c = first; c < last; ++c)
                     for (std::int64_t n = 0; n < shape.n; ++n) {
                       const T* x = &in.at(n, c, 0);
                       T* y = &out.at(n, c, 0);
                       for (std::int64_t s = 0; s < shape.s; ++s)
                         y[s] =
                             convert<T>(multiply_add<fused>(convert<C>(x[s]), alpha[c], beta[c]));
                     }
                 });
    return;
  }
  if (!shape.planar && in_desc.strides[1] == 1 && out_desc.strides[1] == 1) {  // vectorised
    for_each_row(shape, [&](std::int64_t n, std::int64_t s) [[gnu::always_inline]] {
      const T* __restrict x = &in.at(n, 0, s);
      T* __restrict y = &out.at(n, 0, s);
#pragma omp simd
      for (std::int64_t c = 0; c < shape.c; ++c)
        y[c] = convert<T>(multiply_add<fused>(convert<C>(x[c]), alpha[c], beta[c]));
    });
    return;
  }
  for_each_element(
      shape, [&](std::int64_t c, std::int64_t n, std::int64_t s) [[gnu::always_inline]] {
        out.at(n, c, s) =
            convert<T>(multiply_add<fused>(convert<C>(in.at(n, c, s)), alpha[c], beta[c]));
      });
}

template <typename T>
[[gnu::target("fma")]] void affine_fused(const TensorDesc& out, const TensorDesc& in,
                                         const std::vector<Compute<T>>& alpha,
                                         const std::vector<Compute<T>>& beta) {
  affine<T, true>(out, in, alpha, beta);
}

template <typename T>
void affine_rounded_twice(const TensorDesc& out, const TensorDesc& in,
                          const std::vector<Compute<T>>& alpha,
                          const std::vector<Compute<T>>& beta) {
  affine<T, false>(out, in, alpha, beta);
}

// The statistics follow the arithmetic of PyTorch's CPU kernel step by step (double sums, the
// mean rounded to the compute type before the centred second pass, the derived terms in the
// compute type): on channels that are almost constant, the normalised values are rounding noise
// whose sign decides a following ReLU, and training curves then only agree when it agrees.
template <typename T>
void forward(const TensorDesc& out, const TensorDesc& in, const BatchNormVectors& v, bool training,
             double momentum, double eps) {
  using C = Compute<T>;
  const Shape shape = shape_of(in);
  const std::int64_t count = shape.n * shape.s;
  std::vector<C> mean(shape.c), invstd(shape.c);
  if (training) {
    const View<T> x = view<T>(in);
    std::array<std::vector<double>, 1> sum, centred;
    channel_sums<1>(shape, sum, [&](std::int64_t c, std::int64_t n, std::int64_t s) {
      return std::array<double, 1>{convert<double>(x.at(n, c, s))};
    });
    for (std::int64_t c = 0; c < shape.c; ++c) mean[c] = static_cast<C>(sum[0][c] / count);
    channel_sums<1>(shape, centred, [&](std::int64_t c, std::int64_t n, std::int64_t s) {
      const C d = convert<C>(x.at(n, c, s)) - mean[c];
      return std::array<double, 1>{d * d};
    });
    std::vector<double> running_mean = load_vector<double>(v.running_mean, shape.c, 0);
    std::vector<double> running_var = load_vector<double>(v.running_var, shape.c, 1);
    for (std::int64_t c = 0; c < shape.c; ++c) {
      const C var_sum = static_cast<C>(centred[0][c]);
      const double var = var_sum / static_cast<C>(count);
      invstd[c] = var == 0 && eps == 0 ? C(0) : static_cast<C>(1 / std::sqrt(var + eps));
      running_mean[c] = momentum * mean[c] + (1 - momentum) * running_mean[c];
      const double unbiased = var_sum / static_cast<C>(count - 1);
      running_var[c] = momentum * unbiased + (1 - momentum) * running_var[c];
    }
    if (v.save_mean) store_vector(*v.save_mean, mean);
    if (v.save_invstd) store_vector(*v.save_invstd, invstd);
    if (v.running_mean) store_vector(*v.running_mean, running_mean);
    if (v.running_var) store_vector(*v.running_var, running_var);
  } else {
    mean = load_vector<C>(v.running_mean, shape.c, 0);
    const std::vector<C> var = load_vector<C>(v.running_var, shape.c, 1);
    for (std::int64_t c = 0; c < shape.c; ++c)
      invstd[c] = 1 / std::sqrt(var[c] + static_cast<C>(eps));
  }
  const std::vector<C> weight = load_vector<C>(v.weight, shape.c, 1),
                       bias = load_vector<C>(v.bias, shape.c, 0);
  std::vector<C> alpha(shape.c), beta(shape.c);
  for (std::int64_t c = 0; c < shape.c; ++c) {
    alpha[c] = invstd[c] * weight[c];
    beta[c] = bias[c] - mean[c] * alpha[c];
  }
  if (host_has_fma()) {
    affine_fused<T>(out, in, alpha, beta);
  } else {
    affine_rounded_twice<T>(out, in, alpha, beta);
  }
}

// dx = (dy - mean(dy) - (x - mean) * k) * invstd * w
template <typename T, bool fused>
[[gnu::always_inline]] inline void input_gradient(
    const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& in, const Shape& shape,
    const std::vector<Compute<T>>& mean, const std::vector<Compute<T>>& k,
    const std::vector<Compute<T>>& grad_mean, const std::vector<Compute<T>>& invstd,
    const std::vector<Compute<T>>& weight) {
  using C = Compute<T>;
  const View<T> x = view<T>(in), dy = view<T>(grad_out), dx = view<T>(grad_in);
  if (shape.planar && grad_out.strides[2] == 1 && grad_in.strides[2] == 1) {  // vectorised
    const std::int64_t per_channel = std::max<std::int64_t>(1, shape.n * shape.s);
    parallel_for(shape.c, std::max<std::int64_t>(1, kParallelGrain / per_channel),
                 [&](std::int64_t first, std::int64_t last) {
                   for (std::int64_t c = first; c < last; ++c) {
                     const C m = mean[c], kc = k[c], g = grad_mean[c], scale = invstd[c];
                     const C w = weight[c];
                     for (std::int64_t n = 0; n < shape.n; ++n) {
                       const T* __restrict xs = &x.at(n, c, 0);
                       const T* __restrict dys = &dy.at(n, c, 0);
                       T* __restrict dxs = &dx.at(n, c, 0);
                       for (std::int64_t s = 0; s < shape.s; ++s) {
                         const C centred = convert<C>(xs[s]) - m;
                         const C gradient =
                             multiply_add<fused>(-centred, kc, convert<C>(dys[s]) - g);
                         dxs[s] = convert<T>(gradient * scale * w);
                       }
                     }
                   }
                 });
    return;
  }
  if (!shape.planar && in.strides[1] == 1 && grad_out.strides[1] == 1 &&
      grad_in.strides[1] == 1) {  // vectorised
    for_each_row(shape, [&](std::int64_t n, std::int64_t s) [[gnu::always_inline]] {
      const T* __restrict xs = &x.at(n, 0, s);
      const T* __restrict dys = &dy.at(n, 0, s);
      T* __restrict dxs = &dx.at(n, 0, s);
#pragma omp simd
      for (std::int64_t c = 0; c < shape.c; ++c) {
        const C centred = convert<C>(xs[c]) - mean[c];
        const C gradient = multiply_add<fused>(-centred, k[c], convert<C>(dys[c]) - grad_mean[c]);
        dxs[c] = convert<T>(gradient * invstd[c] * weight[c]);
      }
    });
    return;
  }
  for_each_element(
      shape, [&](std::int64_t c, std::int64_t n, std::int64_t s) [[gnu::always_inline]] {
        const C centred = convert<C>(x.at(n, c, s)) - mean[c];
        const C gradient =
            multiply_add<fused>(-centred, k[c], convert<C>(dy.at(n, c, s)) - grad_mean[c]);
        dx.at(n, c, s) = convert<T>(gradient * invstd[c] * weight[c]);
      });
}

template <typename T, typename... Args>
[[gnu::target("fma")]] void input_gradient_fused(const Args&... args) {
  input_gradient<T, true>(args...);
}

template <typename T, typename... Args>
void input_gradient_rounded_twice(const Args&... args) {
  input_gradient<T, false>(args...);
}

template <typename T>
void backward(const TensorDesc* grad_in, const TensorDesc* grad_weight, const TensorDesc* grad_bias,
              const TensorDesc& grad_out, const TensorDesc& in, const BatchNormVectors& v,
              bool training, double eps) {
  using C = Compute<T>;
  const Shape shape = shape_of(in);
  const std::int64_t count = shape.n * shape.s;
  std::vector<C> mean, invstd;
  if (training) {
    mean = load_vector<C>(v.save_mean, shape.c, 0);
    invstd = load_vector<C>(v.save_invstd, shape.c, 1);
  } else {
    mean = load_vector<C>(v.running_mean, shape.c, 0);
    invstd = load_vector<C>(v.running_var, shape.c, 1);
    for (C& value : invstd) value = static_cast<C>(1 / std::sqrt(value + eps));
  }
  // Per channel: the sum of dy and the dot product of (x - mean) and dy.
  std::array<std::vector<double>, 2> sums;
  const View<T> x = view<T>(in), dy = view<T>(grad_out);
  channel_sums<2>(shape, sums, [&](std::int64_t c, std::int64_t n, std::int64_t s) {
    const C g = convert<C>(dy.at(n, c, s));
    return std::array<double, 2>{g, (convert<C>(x.at(n, c, s)) - mean[c]) * g};
  });
  const std::vector<double>& sum = sums[0];
  const std::vector<double>& dot = sums[1];
  if (grad_weight != nullptr) {
    std::vector<double> values(shape.c);
    for (std::int64_t c = 0; c < shape.c; ++c) values[c] = dot[c] * invstd[c];
    store_vector(*grad_weight, values);
  }
  if (grad_bias != nullptr) store_vector(*grad_bias, sum);
  if (grad_in == nullptr) return;
  const std::vector<C> weight = load_vector<C>(v.weight, shape.c, 1);
  std::vector<C> k(shape.c), grad_mean(shape.c);
  for (std::int64_t c = 0; c < shape.c; ++c) {
    k[c] = static_cast<C>(dot[c]) * invstd[c] * invstd[c] / static_cast<C>(count);
    grad_mean[c] = static_cast<C>(sum[c] / count);
  }
  if (!training) {
    const View<T> dx = view<T>(*grad_in);  // the statistics are constants
    for_each_element(shape, [&](std::int64_t c, std::int64_t n, std::int64_t s) {
      dx.at(n, c, s) = convert<T>(convert<C>(dy.at(n, c, s)) * invstd[c] * weight[c]);
    });
    return;
  }
  if (host_has_fma()) {
    input_gradient_fused<T>(*grad_in, grad_out, in, shape, mean, k, grad_mean, invstd, weight);
  } else {
    input_gradient_rounded_twice<T>(*grad_in, grad_out, in, shape, mean, k, grad_mean, invstd,
                                    weight);
  }
}

void check_view(const TensorDesc& d, const TensorDesc& in, const char* kernel) {
  if (d.ndim != 3 || in.ndim != 3 || d.dtype != in.dtype || d.sizes != in.sizes) {
    throw KernelError(std::string(kernel) +
                      ": operands must be [N, C, S] views of one shape and dtype");
  }
}

// 16-bit operands in row-major [N, C, S] order run through the float kernel on float32 copies:
// the 16-bit kernels compute in float too, and visit a copy's elements in the same order, so the
// results are the same bits, while the copies convert 8 or 16 elements per instruction
// (convert_block.h) instead of one at a time (with to_float(Half)'s former integer code float16
// batch norm was 3x slower than float32 in a ResNet-18 step, bfloat16's forward and backward
// 1.3-1.45x).
bool widened_to_float32(const TensorDesc& in) {
  return (in.dtype == DType::Float16 || in.dtype == DType::BFloat16) && in.strides[2] == 1 &&
         in.strides[1] == in.sizes[2] && in.strides[0] == in.sizes[1] * in.sizes[2];
}

}  // namespace

void batch_norm(const TensorDesc& out, const TensorDesc& in, const BatchNormVectors& v,
                bool training, double momentum, double eps) {
  check_view(out, in, "batch_norm");
  if (widened_to_float32(in)) {
    const Float32Copy x(in, true), y(out, false);
    forward<float>(y.desc, x.desc, v, training, momentum, eps);
    return copy(out, y.desc);
  }
  visit_floating(in.dtype, "batch_norm",
                 [&](auto tag) { forward<decltype(tag)>(out, in, v, training, momentum, eps); });
}

void batch_norm_backward(const TensorDesc* grad_in, const TensorDesc* grad_weight,
                         const TensorDesc* grad_bias, const TensorDesc& grad_out,
                         const TensorDesc& in, const BatchNormVectors& v, bool training,
                         double eps) {
  check_view(grad_out, in, "batch_norm_backward");
  if (grad_in != nullptr) check_view(*grad_in, in, "batch_norm_backward");
  if (widened_to_float32(in)) {
    const Float32Copy x(in, true), dy(grad_out, true);
    std::optional<Float32Copy> dx;
    if (grad_in != nullptr) dx.emplace(*grad_in, false);
    backward<float>(dx ? &dx->desc : nullptr, grad_weight, grad_bias, dy.desc, x.desc, v, training,
                    eps);
    if (dx) copy(*grad_in, dx->desc);
    return;
  }
  visit_floating(in.dtype, "batch_norm_backward", [&](auto tag) {
    backward<decltype(tag)>(grad_in, grad_weight, grad_bias, grad_out, in, v, training, eps);
  });
}

}  // namespace mlu::kernels
