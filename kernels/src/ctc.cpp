#include "mlu_kernels/ctc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// log(exp(a) + exp(b) + exp(c)), -inf when all three are.
template <typename T>
T log_sum_exp(T a, T b, T c = kNegInf<T>) {
  const T m = std::max({a, b, c});
  if (m == kNegInf<T>) return m;
  return std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m)) + m;
}

// One sample's view of the operands.
template <typename T>
struct Sample {
  const Ctc& ctc;
  std::int64_t n, steps, length;  // sample index, input length, target length
  const std::int64_t* targets;
  std::int64_t target_stride;

  Sample(const Ctc& c, std::int64_t index, std::int64_t target_offset) : ctc(c), n(index) {
    steps = c.input_lengths[n];
    length = c.target_lengths[n];
    const bool padded = c.targets.ndim == 2;
    targets = static_cast<const std::int64_t*>(c.targets.data) +
              (padded ? n * c.targets.strides[0] : target_offset * c.targets.strides[0]);
    target_stride = padded ? c.targets.strides[1] : c.targets.strides[0];
    // Labels index log_probs' class dimension: checked here, where the data is read.
    const std::int64_t classes = c.log_probs.sizes[2];
    for (std::int64_t i = 0; i < length; ++i) {
      const std::int64_t label = targets[i * target_stride];
      if (label < 0 || label >= classes) {
        throw KernelError("ctc_loss: target " + std::to_string(label) + " of sample " +
                          std::to_string(n) + " is not a class index in [0, " +
                          std::to_string(classes) + ")");
      }
    }
  }
  std::int64_t states() const { return 2 * length + 1; }
  // The label of extended state s: blanks between and around the targets.
  std::int64_t label(std::int64_t s) const {
    return s % 2 == 0 ? ctc.blank : targets[(s / 2) * target_stride];
  }
  // Whether state s may be entered from s - 2 (a repeated label needs the blank between).
  bool skips(std::int64_t s) const { return s >= 2 && s % 2 == 1 && label(s) != label(s - 2); }
  T log_prob(std::int64_t t, std::int64_t c) const {
    const TensorDesc& d = ctc.log_probs;
    return static_cast<const T*>(d.data)[t * d.strides[0] + n * d.strides[1] + c * d.strides[2]];
  }
};

std::vector<std::int64_t> target_offsets(const Ctc& c) {
  std::vector<std::int64_t> offsets(c.target_lengths.size(), 0);
  for (std::size_t i = 1; i < offsets.size(); ++i)
    offsets[i] = offsets[i - 1] + c.target_lengths[i - 1];
  return offsets;
}

template <typename T>
void forward(const Ctc& c, const TensorDesc& nll_desc, const TensorDesc& alpha_desc) {
  const std::int64_t batch = c.log_probs.sizes[1], width = alpha_desc.sizes[2],
                     max_steps = alpha_desc.sizes[1];
  const auto offsets = target_offsets(c);
  parallel_for(batch, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t n = first; n < last; ++n) {
      const Sample<T> x(c, n, offsets[n]);
      T* alpha = static_cast<T*>(alpha_desc.data) + n * max_steps * width;
      std::fill(alpha, alpha + max_steps * width, kNegInf<T>);
      T* nll = static_cast<T*>(nll_desc.data) + n * nll_desc.strides[0];
      if (x.steps == 0) {
        *nll = x.length == 0 ? T(0) : std::numeric_limits<T>::infinity();
        continue;
      }
      alpha[0] = x.log_prob(0, c.blank);
      if (x.length > 0) alpha[1] = x.log_prob(0, x.label(1));
      for (std::int64_t t = 1; t < x.steps; ++t) {
        const T* previous = alpha + (t - 1) * width;
        T* current = alpha + t * width;
        for (std::int64_t s = 0; s < x.states(); ++s) {
          const T sum = log_sum_exp(previous[s], s > 0 ? previous[s - 1] : kNegInf<T>,
                                    x.skips(s) ? previous[s - 2] : kNegInf<T>);
          current[s] = sum == kNegInf<T> ? sum : sum + x.log_prob(t, x.label(s));
        }
      }
      const T* final_step = alpha + (x.steps - 1) * width;
      const T likelihood =
          x.length == 0 ? final_step[0]
                        : log_sum_exp(final_step[2 * x.length], final_step[2 * x.length - 1]);
      *nll = -likelihood;
    }
  });
}

template <typename T>
void backward(const Ctc& c, const TensorDesc& grad_out, const TensorDesc& nll_desc,
              const TensorDesc& alpha_desc, bool zero_infinity, const TensorDesc& grad) {
  const std::int64_t max_steps = c.log_probs.sizes[0], batch = c.log_probs.sizes[1],
                     classes = c.log_probs.sizes[2];
  const std::int64_t width = alpha_desc.sizes[2], alpha_steps = alpha_desc.sizes[1];
  const auto offsets = target_offsets(c);
  parallel_for(batch, 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<T> beta, by_class(classes);
    for (std::int64_t n = first; n < last; ++n) {
      const Sample<T> x(c, n, offsets[n]);
      T* g = static_cast<T*>(grad.data) + n * grad.strides[1];
      auto at = [&](std::int64_t t, std::int64_t k) -> T& {
        return g[t * grad.strides[0] + k * grad.strides[2]];
      };
      const T nll = static_cast<const T*>(nll_desc.data)[n * nll_desc.strides[0]];
      const T scale = static_cast<const T*>(grad_out.data)[n * grad_out.strides[0]];
      const bool zeroed = zero_infinity && nll == std::numeric_limits<T>::infinity();
      for (std::int64_t t = zeroed ? 0 : x.steps; t < max_steps; ++t)
        for (std::int64_t k = 0; k < classes; ++k) at(t, k) = T(0);
      if (zeroed || x.steps == 0) continue;
      const std::int64_t states = x.states();
      beta.assign(x.steps * states, kNegInf<T>);
      T* last_step = beta.data() + (x.steps - 1) * states;
      last_step[states - 1] = x.log_prob(x.steps - 1, c.blank);
      if (x.length > 0) last_step[states - 2] = x.log_prob(x.steps - 1, x.label(states - 2));
      for (std::int64_t t = x.steps - 2; t >= 0; --t) {
        const T* next = beta.data() + (t + 1) * states;
        T* current = beta.data() + t * states;
        for (std::int64_t s = 0; s < states; ++s) {
          const T sum = log_sum_exp(next[s], s + 1 < states ? next[s + 1] : kNegInf<T>,
                                    s + 2 < states && x.skips(s + 2) ? next[s + 2] : kNegInf<T>);
          current[s] = sum == kNegInf<T> ? sum : sum + x.log_prob(t, x.label(s));
        }
      }
      const T* alpha = static_cast<const T*>(alpha_desc.data) + n * alpha_steps * width;
      for (std::int64_t t = 0; t < x.steps; ++t) {
        // Per class, log of the sum over its states of alpha * beta.
        std::fill(by_class.begin(), by_class.end(), kNegInf<T>);
        for (std::int64_t s = 0; s < states; ++s) {
          T& v = by_class[x.label(s)];
          v = log_sum_exp(v, alpha[t * width + s] + beta[t * states + s]);
        }
        for (std::int64_t k = 0; k < classes; ++k) {
          const T lp = x.log_prob(t, k);
          at(t, k) = (std::exp(lp) - std::exp(by_class[k] + nll - lp)) * scale;
        }
      }
    }
  });
}

}  // namespace

void ctc_loss(const Ctc& ctc, const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha) {
  if (ctc.log_probs.dtype == DType::Float32)
    forward<float>(ctc, neg_log_likelihood, log_alpha);
  else if (ctc.log_probs.dtype == DType::Float64)
    forward<double>(ctc, neg_log_likelihood, log_alpha);
  else
    throw KernelError("ctc_loss: float32 or float64 log_probs only");
}

void ctc_loss_backward(const Ctc& ctc, const TensorDesc& grad_out,
                       const TensorDesc& neg_log_likelihood, const TensorDesc& log_alpha,
                       bool zero_infinity, const TensorDesc& grad) {
  if (ctc.log_probs.dtype == DType::Float32)
    backward<float>(ctc, grad_out, neg_log_likelihood, log_alpha, zero_infinity, grad);
  else if (ctc.log_probs.dtype == DType::Float64)
    backward<double>(ctc, grad_out, neg_log_likelihood, log_alpha, zero_infinity, grad);
  else
    throw KernelError("ctc_loss_backward: float32 or float64 log_probs only");
}

}  // namespace mlu::kernels
