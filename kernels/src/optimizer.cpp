#include "mlu_kernels/optimizer.h"

#include <algorithm>
#include <cmath>

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

// Calls f(T tag) with the parameter dtype, for the floating types only.
template <typename F>
void visit_floating(DType dtype, F&& f) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, _Float16> ||
                  std::is_same_v<T, BFloat16>) {
      f(tag);
    } else {
      throw KernelError("fused optimizers update floating-point parameters only");
    }
  });
}

template <typename T>
void adam_slot(const AdamSlot& s, const AdamConfig& c, double lr) {
  using C = Compute<T>;
  const double step = *s.step;
  const C bias_correction1 = C(1 - std::pow(c.beta1, step));
  const C bias_correction2_sqrt = C(std::sqrt(1 - std::pow(c.beta2, step)));
  const C step_size = C(lr) / bias_correction1;
  const C beta1 = C(c.beta1), beta2 = C(c.beta2), eps = C(c.eps), wd = C(c.weight_decay);
  const C decay = C(1 - lr * c.weight_decay);
  const C inv_scale = c.grad_scale ? C(1) / C(*c.grad_scale) : C(1);
  T *p = data<T>(s.param), *g = data<T>(s.grad), *m = data<T>(s.exp_avg), *v = data<T>(s.exp_avg_sq);
  T* vmax = c.amsgrad ? data<T>(s.max_exp_avg_sq) : nullptr;
  parallel_for(s.param.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      C grad = convert<C>(g[i]);
      if (c.grad_scale) {
        grad *= inv_scale;
        g[i] = convert<T>(grad);
      }
      if (c.maximize) grad = -grad;
      C param = convert<C>(p[i]);
      if (wd != C(0)) {
        if (c.decoupled_weight_decay) param *= decay;
        else grad += wd * param;
      }
      const C avg = convert<C>(m[i]) + (C(1) - beta1) * (grad - convert<C>(m[i]));
      const C avg_sq = beta2 * convert<C>(v[i]) + (C(1) - beta2) * grad * grad;
      m[i] = convert<T>(avg);
      v[i] = convert<T>(avg_sq);
      C second = avg_sq;
      if (vmax) {
        second = std::max(convert<C>(vmax[i]), avg_sq);
        vmax[i] = convert<T>(second);
      }
      const C denom = std::sqrt(second) / bias_correction2_sqrt + eps;
      p[i] = convert<T>(param - step_size * avg / denom);
    }
  });
}

template <typename T>
void sgd_slot(const SgdSlot& s, const SgdConfig& c, double lr) {
  using C = Compute<T>;
  const C wd = C(c.weight_decay), momentum = C(c.momentum), dampening = C(c.dampening), rate = C(lr);
  const C inv_scale = c.grad_scale ? C(1) / C(*c.grad_scale) : C(1);
  T *p = data<T>(s.param), *g = data<T>(s.grad);
  T* buf = c.momentum != 0 ? data<T>(s.momentum_buffer) : nullptr;
  parallel_for(s.param.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      C grad = convert<C>(g[i]);
      if (c.grad_scale) {
        grad *= inv_scale;
        g[i] = convert<T>(grad);
      }
      if (c.maximize) grad = -grad;
      const C param = convert<C>(p[i]);
      if (wd != C(0)) grad += wd * param;
      if (buf) {
        const C b = c.first_step ? grad : momentum * convert<C>(buf[i]) + (C(1) - dampening) * grad;
        buf[i] = convert<T>(b);
        grad = c.nesterov ? grad + momentum * b : b;
      }
      p[i] = convert<T>(param - rate * grad);
    }
  });
}

}  // namespace

void fused_adam(const std::vector<AdamSlot>& slots, const AdamConfig& config) {
  if (config.found_inf && *config.found_inf != 0.f) return;
  const double lr = config.lr_on_device ? *config.lr_on_device : config.lr;
  for (const AdamSlot& s : slots) {
    visit_floating(s.param.dtype, [&](auto tag) { adam_slot<decltype(tag)>(s, config, lr); });
  }
}

void fused_sgd(const std::vector<SgdSlot>& slots, const SgdConfig& config) {
  if (config.found_inf && *config.found_inf != 0.f) return;
  const double lr = config.lr_on_device ? *config.lr_on_device : config.lr;
  for (const SgdSlot& s : slots) {
    visit_floating(s.param.dtype, [&](auto tag) { sgd_slot<decltype(tag)>(s, config, lr); });
  }
}

}  // namespace mlu::kernels
