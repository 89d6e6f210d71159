// Native random operators on the device generator: the wrapper reserves one Philox counter
// value per element (under the generator's mutex) and the kernel derives element i's numbers
// from (seed, offset + i), so a seed reproduces every result without synchronising. Argument
// checks come from PyTorch's DistributionTemplates, as for CUDA.
#include "random.h"

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/native/DistributionTemplates.h>
#include <ATen/native/TensorFactories.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {

hal::RandomRange reserve(const std::optional<at::Generator>& generator, const at::TensorBase& self,
                         std::uint64_t n) {
  auto* gen = at::get_generator_or_default<MLUGeneratorImpl>(
      generator, default_generator(self.device().index()));
  hal::Queue* queue = current_queue(self.device().index());
  std::lock_guard lock(gen->mutex_);
  if (auto base = gen->capture_base(queue)) return {{0, gen->take_captured(n)}, std::move(base)};
  TORCH_CHECK(!hal_call([&] { return driver().capturing(queue); }),
              "random numbers from a generator other than the device's default generator "
              "cannot be captured in an mlu graph: every replay would repeat them");
  return {{gen->current_seed(), gen->take(n)}, nullptr};
}

namespace {

using Generator = std::optional<at::Generator>;

// Reserves self's numbers and enqueues the operation make(desc of self, their range) builds.
template <typename Make>
void generate(const at::TensorBase& self, const Generator& generator, Make make) {
  c10::DeviceGuard guard(self.device());
  const at::Tensor tensor(self);
  const hal::RandomRange range = reserve(generator, self, self.numel());
  launch(tensor, make(describe(tensor), range));
}

void check_floating(const at::TensorBase& self, const char* name) {
  TORCH_CHECK(at::isFloatingType(self.scalar_type()), "\"", name, "\" not implemented for '",
              c10::toString(self.scalar_type()), "'");
}

// ---- kernels in the shapes DistributionTemplates calls ------------------------------------------

template <typename RNG>
struct UniformKernel {
  void operator()(at::TensorIteratorBase& iter, double from, double to, Generator gen) {
    generate(iter.tensor_base(0), gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
      return hal::Uniform{.out = out, .philox = r, .from = from, .to = to};
    });
  }
};

template <typename RNG>
struct NormalKernel {
  void operator()(const at::TensorBase& self, double mean, double std, Generator gen) {
    check_floating(self, "normal_kernel_mlu");
    at::assert_no_internal_overlap(self);
    generate(self, gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
      return hal::Normal{.out = out, .philox = r, .mean = mean, .std = std};
    });
  }
};

template <typename RNG>
struct ExponentialKernel {
  void operator()(at::TensorIteratorBase& iter, double lambda, Generator gen) {
    check_floating(iter.tensor_base(0), "exponential_mlu");
    generate(iter.tensor_base(0), gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
      return hal::Exponential{.out = out, .philox = r, .lambda = lambda};
    });
  }
};

void random_range(at::TensorIteratorBase& iter, int64_t from, std::uint64_t range,
                  const Generator& gen) {
  generate(iter.tensor_base(0), gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
    return hal::RandomIntegers{.out = out, .philox = r, .from = from, .range = range};
  });
}

template <typename RNG>
struct RandomFromToKernel {
  void operator()(at::TensorIteratorBase& iter, std::uint64_t range, int64_t from, Generator gen) {
    random_range(iter, from, range, gen);
  }
  // The full 64-bit range: from the lowest int64 on.
  void operator()(at::TensorIteratorBase& iter, Generator gen) {
    random_range(iter, std::numeric_limits<int64_t>::lowest(), 0, gen);
  }
};

// random_() without bounds: [0, 2^digits] for floating dtypes, [0, max] for integral ones.
template <typename RNG>
struct RandomKernel {
  void operator()(at::TensorIteratorBase& iter, Generator gen) {
    std::uint64_t range = 0;
    AT_DISPATCH_ALL_TYPES_AND3(
        at::kHalf, at::kBFloat16, at::kBool, iter.dtype(), "random_mlu", [&] {
          if constexpr (std::is_same_v<scalar_t, bool>) {
            range = 2;
          } else if constexpr (std::is_integral_v<scalar_t>) {
            range = static_cast<std::uint64_t>(std::numeric_limits<scalar_t>::max()) + 1;
          } else {
            range = (std::uint64_t{1} << std::numeric_limits<scalar_t>::digits) + 1;
          }
        });
    random_range(iter, 0, range, gen);
  }
};

template <typename RNG>
struct BernoulliKernel {
  void operator()(const at::TensorBase& self, double p, Generator gen) {
    generate(self, gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
      return hal::Bernoulli{.out = out, .philox = r, .p = p};
    });
  }
  void operator()(const at::TensorBase& self, const at::Tensor& p, Generator gen) {
    const at::Tensor tensor(self);
    const c10::Device device = common_device({&tensor, &p});
    check_overlap(tensor, {&p});
    TORCH_CHECK(at::isFloatingType(p.scalar_type()),
                "bernoulli_: expected a floating-point p, got ", p.scalar_type());
    const at::Tensor probability = operand(p, p.scalar_type(), tensor.sizes(), device);
    const hal::TensorDesc prob = describe(probability);
    generate(self, gen, [&](const hal::TensorDesc& out, const hal::RandomRange& r) {
      return hal::BernoulliTensor{.out = out, .philox = r, .p = prob};
    });
  }
};

using RNG = MLUGeneratorImpl*;

// ---- operators ---------------------------------------------------------------------------------

at::Tensor& uniform_(at::Tensor& self, double from, double to, Generator gen) {
  return at::native::templates::uniform_impl_<UniformKernel, RNG>(self, from, to, gen);
}

at::Tensor& normal_(at::Tensor& self, double mean, double std, Generator gen) {
  return at::native::templates::normal_impl_<NormalKernel, RNG>(self, mean, std, gen);
}

// normal with tensor means or deviations: the templates draw standard normals, then scale and
// shift them with elementwise kernels. A tensor std is checked for negative values, which reads it
// back (synchronises), as on CUDA.
at::Tensor normal_tensor_float(const at::Tensor& mean, double std, Generator gen) {
  return at::native::templates::normal_impl<NormalKernel, RNG>(mean, std, gen);
}
at::Tensor normal_float_tensor(double mean, const at::Tensor& std, Generator gen) {
  return at::native::templates::normal_impl<NormalKernel, RNG>(mean, std, gen);
}
at::Tensor normal_tensor_tensor(const at::Tensor& mean, const at::Tensor& std, Generator gen) {
  return at::native::templates::normal_impl<NormalKernel, RNG>(mean, std, gen);
}
at::Tensor& normal_tensor_float_out(const at::Tensor& mean, double std, Generator gen,
                                    at::Tensor& out) {
  return at::native::templates::normal_out_impl<NormalKernel, RNG>(out, mean, std, gen);
}
at::Tensor& normal_float_tensor_out(double mean, const at::Tensor& std, Generator gen,
                                    at::Tensor& out) {
  return at::native::templates::normal_out_impl<NormalKernel, RNG>(out, mean, std, gen);
}
at::Tensor& normal_tensor_tensor_out(const at::Tensor& mean, const at::Tensor& std, Generator gen,
                                     at::Tensor& out) {
  return at::native::templates::normal_out_impl<NormalKernel, RNG>(out, mean, std, gen);
}

at::Tensor& exponential_(at::Tensor& self, double lambda, Generator gen) {
  return at::native::templates::exponential_impl_<ExponentialKernel, RNG>(self, lambda, gen);
}

at::Tensor& random_(at::Tensor& self, Generator gen) {
  return at::native::templates::random_impl<RandomKernel, RNG>(self, gen);
}

at::Tensor& random_from(at::Tensor& self, int64_t from, std::optional<int64_t> to, Generator gen) {
  return at::native::templates::random_from_to_impl<RandomFromToKernel, RNG>(self, from, to, gen);
}

at::Tensor& random_to(at::Tensor& self, int64_t to, Generator gen) {
  return random_from(self, 0, to, gen);
}

at::Tensor& bernoulli_tensor_(at::Tensor& self, const at::Tensor& p, Generator gen) {
  return at::native::templates::bernoulli_impl_<BernoulliKernel, RNG>(self, p, gen);
}

at::Tensor& bernoulli_float_(at::Tensor& self, double p, Generator gen) {
  return at::native::templates::bernoulli_impl_<BernoulliKernel, RNG>(self, p, gen);
}

at::Tensor& bernoulli_out(const at::Tensor& self, Generator gen, at::Tensor& out) {
  return at::native::templates::bernoulli_out_impl<BernoulliKernel, RNG>(out, self, gen);
}

at::Tensor& randperm_out(int64_t n, Generator gen, at::Tensor& out) {
  const c10::Device device = common_device({&out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(n >= 0, "n must be non-negative, got", n);
  TORCH_CHECK(!gen || !gen->defined() || gen->device() == device, "Expected a '", device,
              "' generator device but found '", gen->device(), "'");
  at::native::check_supported_max_int_with_precision(n, out);
  out.resize_({n});
  // Swap i of Fisher-Yates draws from counter offset + i.
  generate(out, gen, [](const hal::TensorDesc& o, const hal::RandomRange& r) {
    return hal::Randperm{.out = o, .philox = r};
  });
  return out;
}

// ---- multinomial -------------------------------------------------------------------------------

// As PyTorch's CPU and CUDA multinomial: without replacement (or for one sample) the exponential
// race argmax/topk(p / q), q ~ Exp(1), in native operators; with replacement a search of each
// row's cumulative weights for device-generated uniforms.
at::Tensor& multinomial_out(const at::Tensor& self, int64_t n_sample, bool replacement,
                            Generator gen, at::Tensor& result) {
  const c10::Device device = common_device({&self, &result});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(self.dim() > 0 && self.dim() <= 2, "prob_dist must be 1 or 2 dim");
  TORCH_CHECK(
      at::isFloatingType(self.scalar_type()),
      "multinomial only supports floating-point dtypes for input, got: ", self.scalar_type());
  TORCH_CHECK(result.scalar_type() == at::kLong,
              "multinomial expects Long tensor out, got: ", result.scalar_type());
  TORCH_CHECK(n_sample > 0, "cannot sample n_sample <= 0 samples");
  const int64_t categories = self.size(-1);
  TORCH_CHECK(replacement || n_sample <= categories,
              "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  TORCH_CHECK(categories <= (int64_t{1} << 24), "number of categories cannot exceed 2^24");
  if (self.dim() == 1) {
    result.resize_({n_sample});
  } else {
    result.resize_({self.size(0), n_sample});
  }
  if (result.numel() == 0) return result;
  if (!replacement || n_sample == 1) {
    TORCH_CHECK(((self.max() < INFINITY) & (self.min() >= 0)).item<bool>(),
                "probability tensor contains either `inf`, `nan` or element < 0");
    const at::Tensor sums = self.dim() == 1 ? self.sum().unsqueeze(0) : self.sum(1);
    TORCH_CHECK(!(sums == 0).any().item<bool>(),
                "invalid multinomial distribution (sum of probabilities <= 0)");
    at::Tensor q = at::empty_like(self).exponential_(1, gen);
    at::div_out(q, self, q);
    if (n_sample == 1) return at::argmax_out(result, q, -1, true);
    at::Tensor values = at::empty(result.sizes(), self.options());
    at::topk_out(values, result, q, n_sample);
    return result;
  }
  const at::Tensor probs = self.dim() == 1 ? self.unsqueeze(0) : self;
  at::Tensor uniforms =
      at::empty({probs.size(0), n_sample}, self.options().dtype(at::kDouble)).uniform_(0, 1, gen);
  const at::Tensor out =
      result.is_contiguous() ? result : at::empty(result.sizes(), result.options());
  const at::Tensor rows = out.view({probs.size(0), n_sample});
  launch(rows, hal::SampleCategories{describe(rows), describe(probs), describe(uniforms)});
  if (!out.is_same(result)) result.copy_(out);
  return result;
}

at::Tensor multinomial(const at::Tensor& self, int64_t n_sample, bool replacement, Generator gen) {
  at::Tensor result = at::empty({0}, self.options().dtype(at::kLong));
  return multinomial_out(self, n_sample, replacement, gen, result);
}

// ---- dropout -----------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor> native_dropout(const at::Tensor& input, double p,
                                                  std::optional<bool> train) {
  const c10::Device device = common_device({&input});
  c10::DeviceGuard guard(device);
  const auto mask_options = input.options().dtype(at::kBool);
  if (input.numel() == 0) return {input, at::empty_like(input, mask_options)};
  if (train.has_value() && !*train) return {input.clone(), at::ones_like(input, mask_options)};
  TORCH_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got ", p);
  check_floating(input, "native_dropout");
  at::Tensor out = at::empty_like(input), mask = at::empty_like(input, mask_options);
  const hal::RandomRange range = reserve(std::nullopt, input, input.numel());
  launch(out, hal::Dropout{.out = describe(out),
                           .mask = describe(mask),
                           .in = describe(input),
                           .philox = range,
                           .p = p});
  return {out, mask};
}

at::Tensor native_dropout_backward(const at::Tensor& grad, const at::Tensor& mask, double scale) {
  const c10::Device device = common_device({&grad, &mask});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(mask.scalar_type() == at::kBool, "Mask should be Bool Scalar Type",
              mask.scalar_type());
  const auto shape = at::infer_size(grad.sizes(), mask.sizes());
  // grad * mask * scale: a floating scale promotes integral and bool gradients, as on CPU.
  if (!at::isFloatingType(grad.scalar_type())) return grad * mask * scale;
  at::Tensor out = new_output(shape, grad.scalar_type(), grad, device);
  const at::Tensor g = operand(grad, grad.scalar_type(), shape, device),
                   m = operand(mask, at::kBool, shape, device);
  launch(out, hal::MaskedScale{describe(out), describe(g), describe(m), scale});
  return out;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("uniform_", uniform_);
  m.impl("normal_", normal_);
  m.impl("normal.Tensor_float", normal_tensor_float);
  m.impl("normal.float_Tensor", normal_float_tensor);
  m.impl("normal.Tensor_Tensor", normal_tensor_tensor);
  m.impl("normal.Tensor_float_out", normal_tensor_float_out);
  m.impl("normal.float_Tensor_out", normal_float_tensor_out);
  m.impl("normal.Tensor_Tensor_out", normal_tensor_tensor_out);
  m.impl("exponential_", exponential_);
  m.impl("random_", random_);
  m.impl("random_.from", random_from);
  m.impl("random_.to", random_to);
  m.impl("bernoulli_.Tensor", bernoulli_tensor_);
  m.impl("bernoulli_.float", bernoulli_float_);
  m.impl("bernoulli.out", bernoulli_out);
  m.impl("randperm.generator_out", randperm_out);
  m.impl("multinomial", multinomial);
  m.impl("multinomial.out", multinomial_out);
  m.impl("native_dropout", native_dropout);
  m.impl("native_dropout_backward", native_dropout_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
