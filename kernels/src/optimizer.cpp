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

// The gradient of element i, unscaled (and written back so) when a scale is set, negated to
// maximise.
template <typename C, typename T>
C gradient(T* g, std::int64_t i, const DeviceScalars& device, C inv_scale, bool maximize) {
  C grad = convert<C>(g[i]);
  if (device.grad_scale) {
    grad *= inv_scale;
    g[i] = convert<T>(grad);
  }
  return maximize ? -grad : grad;
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

template <typename T>
void adam_slot(const AdamSlot& s, const AdamConfig& c, double lr) {
  using C = Compute<T>;
  const double step = *s.step;
  const C bias_correction1 = C(1 - std::pow(c.beta1, step));
  const C bias_correction2_sqrt = C(std::sqrt(1 - std::pow(c.beta2, step)));
  const C step_size = C(lr) / bias_correction1;
  const C beta1 = C(c.beta1), beta2 = C(c.beta2), eps = C(c.eps), wd = C(c.weight_decay);
  const C decay = C(1 - lr * c.weight_decay);
  const C inv_scale = inverse_scale<C>(c.device);
  T *p = data<T>(s.param), *g = data<T>(s.grad), *m = data<T>(s.exp_avg), *v = data<T>(s.exp_avg_sq);
  T* vmax = c.amsgrad ? data<T>(s.max_exp_avg_sq) : nullptr;
  parallel_for(s.param.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      C grad = gradient(g, i, c.device, inv_scale, c.maximize);
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
  const C inv_scale = inverse_scale<C>(c.device);
  T *p = data<T>(s.param), *g = data<T>(s.grad);
  T* buf = c.momentum != 0 ? data<T>(s.momentum_buffer) : nullptr;
  parallel_for(s.param.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      C grad = gradient(g, i, c.device, inv_scale, c.maximize);
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
  double lr;
  if (!step_runs(config.device, config.lr, lr)) return;
  for (const AdamSlot& s : slots) {
    visit_floating(s.param.dtype, "fused_adam", [&](auto tag) { adam_slot<decltype(tag)>(s, config, lr); });
  }
}

void fused_sgd(const std::vector<SgdSlot>& slots, const SgdConfig& config) {
  double lr;
  if (!step_runs(config.device, config.lr, lr)) return;
  for (const SgdSlot& s : slots) {
    visit_floating(s.param.dtype, "fused_sgd", [&](auto tag) { sgd_slot<decltype(tag)>(s, config, lr); });
  }
}

}  // namespace mlu::kernels
