#include "mlu_kernels/optimizer.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "mlu_kernels/parallel.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
T* data(const TensorDesc& d) {
  return static_cast<T*>(d.data);
}

template <typename C>
C inverse_scale(const DeviceScalars& device) {
  return device.grad_scale ? C(1) / C(*device.grad_scale) : C(1);
}

// Whether the step runs, and at which learning rate.
bool step_runs(const DeviceScalars& device, double configured_lr, double& lr) {
  if (device.found_inf && *device.found_inf != 0.f) return false;
  lr = device.lr ? *device.lr : configured_lr;
  return true;
}

// Calls fn(slot, begin, end) over every parameter's elements in chunks, in parallel across
// parameters as well as within large ones: a model's many small tensors (biases, norms) would
// each be too small to share on their own.
void for_each_chunk(const std::vector<std::int64_t>& sizes,
                    const std::function<void(std::size_t, std::int64_t, std::int64_t)>& fn) {
  struct Chunk {
    std::size_t slot;
    std::int64_t begin, end;
  };
  std::vector<Chunk> chunks;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    for (std::int64_t begin = 0; begin < sizes[i]; begin += kParallelGrain)
      chunks.push_back({i, begin, std::min(sizes[i], begin + kParallelGrain)});
    total += sizes[i];
  }
  const std::int64_t n = static_cast<std::int64_t>(chunks.size());
  // One chunk is worth a thread only as a share of enough elements in all.
  const std::int64_t grain = total < 2 * kParallelGrain ? n : 1;
  parallel_for(n, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t c = first; c < last; ++c) fn(chunks[c].slot, chunks[c].begin, chunks[c].end);
  });
}

// Calls f(std::bool_constant<a>, std::bool_constant<b>): conditional stores become compile-time
// choices, which the loops need to vectorise.
template <typename F>
void with_flags(bool a, bool b, F&& f) {
  auto second = [&](auto first) {
    if (b)
      f(first, std::true_type{});
    else
      f(first, std::false_type{});
  };
  if (a)
    second(std::true_type{});
  else
    second(std::false_type{});
}

// The per-step constants of one Adam slot, in the compute type.
template <typename C>
struct AdamStep {
  C beta1, beta2, eps, wd, decay, step_size, bias_correction2_sqrt, inv_scale;
  bool maximize, decoupled;
};

// Elements [0, n) of one slot. Restrict pointers and `omp simd` let the loop vectorise (five
// arrays are more than the compiler's run-time alias checks cover). k is taken by value so that
// the stores cannot be assumed to change it.
template <bool kScaled, bool kAmsgrad, typename T, typename C>
void adam_elements(std::int64_t n, T* __restrict p, T* __restrict g, T* __restrict m,
                   T* __restrict v, T* __restrict vmax, const AdamStep<C> k) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    C grad = convert<C>(g[i]);
    if constexpr (kScaled) {
      grad *= k.inv_scale;
      g[i] = convert<T>(grad);  // unscaled in place, as the reference implementation leaves it
    }
    if (k.maximize) grad = -grad;
    C param = convert<C>(p[i]);
    if (k.decoupled)
      param *= k.decay;
    else if (k.wd != C(0))
      grad += k.wd * param;
    const C avg = convert<C>(m[i]) + (C(1) - k.beta1) * (grad - convert<C>(m[i]));
    const C avg_sq = k.beta2 * convert<C>(v[i]) + (C(1) - k.beta2) * grad * grad;
    m[i] = convert<T>(avg);
    v[i] = convert<T>(avg_sq);
    C second = avg_sq;
    if constexpr (kAmsgrad) {
      second = std::max(convert<C>(vmax[i]), avg_sq);
      vmax[i] = convert<T>(second);
    }
    const C denom = std::sqrt(second) / k.bias_correction2_sqrt + k.eps;
    p[i] = convert<T>(param - k.step_size * avg / denom);
  }
}

template <typename T>
void adam_chunk(const AdamSlot& s, const AdamConfig& c, double lr, std::int64_t begin,
                std::int64_t end) {
  using C = Compute<T>;
  const double step = *s.step;
  AdamStep<C> k;
  k.beta1 = C(c.beta1), k.beta2 = C(c.beta2), k.eps = C(c.eps), k.wd = C(c.weight_decay);
  k.decay = C(1 - lr * c.weight_decay);
  k.step_size = C(lr) / C(1 - std::pow(c.beta1, step));
  k.bias_correction2_sqrt = C(std::sqrt(1 - std::pow(c.beta2, step)));
  k.inv_scale = inverse_scale<C>(c.device);
  k.maximize = c.maximize, k.decoupled = c.decoupled_weight_decay;
  T* vmax = c.amsgrad ? data<T>(s.max_exp_avg_sq) + begin : nullptr;
  with_flags(c.device.grad_scale != nullptr, c.amsgrad, [&](auto scaled, auto amsgrad) {
    adam_elements<scaled(), amsgrad()>(end - begin, data<T>(s.param) + begin,
                                       data<T>(s.grad) + begin, data<T>(s.exp_avg) + begin,
                                       data<T>(s.exp_avg_sq) + begin, vmax, k);
  });
}

template <typename C>
struct SgdStep {
  C wd, momentum, dampening, rate, inv_scale;
  bool first, maximize, nesterov;
};

template <bool kScaled, bool kMomentum, typename T, typename C>
void sgd_elements(std::int64_t n, T* __restrict p, T* __restrict g, T* __restrict buf,
                  const SgdStep<C> k) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    C grad = convert<C>(g[i]);
    if constexpr (kScaled) {
      grad *= k.inv_scale;
      g[i] = convert<T>(grad);
    }
    if (k.maximize) grad = -grad;
    const C param = convert<C>(p[i]);
    if (k.wd != C(0)) grad += k.wd * param;
    if constexpr (kMomentum) {
      const C b = k.first ? grad : k.momentum * convert<C>(buf[i]) + (C(1) - k.dampening) * grad;
      buf[i] = convert<T>(b);
      grad = k.nesterov ? grad + k.momentum * b : b;
    }
    p[i] = convert<T>(param - k.rate * grad);
  }
}

template <typename T>
void sgd_chunk(const SgdSlot& s, const SgdConfig& c, double lr, std::int64_t begin,
               std::int64_t end) {
  using C = Compute<T>;
  const SgdStep<C> k{C(c.weight_decay),          C(c.momentum), C(c.dampening), C(lr),
                     inverse_scale<C>(c.device), c.first_step,  c.maximize,     c.nesterov};
  T* buf = c.momentum != 0 ? data<T>(s.momentum_buffer) + begin : nullptr;
  with_flags(c.device.grad_scale != nullptr, c.momentum != 0, [&](auto scaled, auto momentum) {
    sgd_elements<scaled(), momentum()>(end - begin, data<T>(s.param) + begin,
                                       data<T>(s.grad) + begin, buf, k);
  });
}

template <typename Slot>
std::vector<std::int64_t> sizes_of(const std::vector<Slot>& slots) {
  std::vector<std::int64_t> sizes;
  for (const Slot& s : slots) sizes.push_back(s.param.numel());
  return sizes;
}

}  // namespace

void fused_adam(const std::vector<AdamSlot>& slots, const AdamConfig& config) {
  double lr;
  if (!step_runs(config.device, config.lr, lr)) return;
  for_each_chunk(sizes_of(slots), [&](std::size_t i, std::int64_t begin, std::int64_t end) {
    visit_floating(slots[i].param.dtype, "fused_adam",
                   [&](auto tag) { adam_chunk<decltype(tag)>(slots[i], config, lr, begin, end); });
  });
}

void fused_sgd(const std::vector<SgdSlot>& slots, const SgdConfig& config) {
  double lr;
  if (!step_runs(config.device, config.lr, lr)) return;
  for_each_chunk(sizes_of(slots), [&](std::size_t i, std::int64_t begin, std::int64_t end) {
    visit_floating(slots[i].param.dtype, "fused_sgd",
                   [&](auto tag) { sgd_chunk<decltype(tag)>(slots[i], config, lr, begin, end); });
  });
}

}  // namespace mlu::kernels
