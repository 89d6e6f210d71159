// The FFT primitives torch.fft, stft and istft are built on (_fft_r2c, _fft_c2r, _fft_c2c), on
// the device's FFT operations (pocketfft kernels on the software MLU). Shapes, normalisation and
// one-sided halves are decided here as ATen's CPU kernels decide them.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "common.h"

namespace torch_mlu::ops {
namespace {

// ATen's fft_norm_mode: 0 none, 1 by 1/sqrt(n), 2 by 1/n, n being the transformed signal's size.
double normalization_scale(int64_t mode, c10::IntArrayRef signal_sizes, at::IntArrayRef dims) {
  double n = 1;
  for (int64_t d : dims) {
    n *= static_cast<double>(signal_sizes[c10::maybe_wrap_dim(d, signal_sizes.size())]);
  }
  switch (mode) {
    case 0: return 1;
    case 1: return 1 / std::sqrt(n);
    case 2: return 1 / n;
  }
  TORCH_CHECK(false, "Unsupported normalization type ", mode);
}

std::vector<int> kernel_dims(at::IntArrayRef dims, int64_t ndim) {
  std::vector<int> result;
  for (int64_t d : dims) result.push_back(static_cast<int>(c10::maybe_wrap_dim(d, ndim)));
  return result;
}

void check_input(const at::Tensor& self, bool complex, const char* name) {
  const c10::ScalarType type = self.scalar_type();
  if (complex) {
    TORCH_CHECK(type == c10::kComplexFloat || type == c10::kComplexDouble, name,
                " on mlu takes complex64 or complex128 input, got ", type);
  } else {
    TORCH_CHECK(type == c10::kFloat || type == c10::kDouble, name,
                " on mlu takes float32 or float64 input, got ", type);
  }
}

// Resizes out= to shape and dtype, or makes the result.
at::Tensor result_for(const at::Tensor& self, c10::IntArrayRef shape, c10::ScalarType dtype,
                      const at::Tensor& out) {
  if (!out.defined()) return at::empty(shape, self.options().dtype(dtype));
  prepare_out(out, shape, dtype, self.device());
  TORCH_CHECK(out.scalar_type() == dtype, "FFT on mlu: out is ", out.scalar_type(), ", expected ",
              dtype);
  return out;
}

// The kernels write dense results; a strided out= takes a copy.
template <typename Kernel>
at::Tensor run(const at::Tensor& result, Kernel kernel) {
  const at::Tensor target = result.is_non_overlapping_and_dense()
                                ? result
                                : at::empty_like(result, at::MemoryFormat::Contiguous);
  kernel(target);
  if (!target.is_same(result)) result.copy_(target);
  return result;
}

at::Tensor c2c(const at::Tensor& self, c10::SymIntArrayRef sym_dims, int64_t normalization,
               bool forward, const at::Tensor& out) {
  check_input(self, true, "_fft_c2c");
  c10::DeviceGuard guard(self.device());
  const at::Tensor in = self.resolve_conj();
  const auto dims_vec = C10_AS_INTARRAYREF_SLOW(sym_dims).vec();
  const double scale = normalization_scale(normalization, in.sizes(), dims_vec);
  const at::Tensor result = result_for(in, in.sizes(), in.scalar_type(), out);
  return run(result, [&](const at::Tensor& target) {
    launch(target, hal::FftC2C{describe_interleaved(target), describe_interleaved(in),
                               kernel_dims(dims_vec, in.dim()), forward, scale});
  });
}

at::Tensor r2c(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization, bool onesided,
               const at::Tensor& out) {
  check_input(self, false, "_fft_r2c");
  TORCH_CHECK(!dims.empty(), "_fft_r2c: no dimension to transform");
  c10::DeviceGuard guard(self.device());
  const c10::ScalarType complex_type = c10::toComplexType(self.scalar_type());
  if (!onesided) {
    // The full spectrum of a real signal: the complex transform of the signal as complex.
    const at::Tensor as_complex = self.to(complex_type);
    return c2c(as_complex, c10::fromIntArrayRefSlow(dims), normalization, true, out);
  }
  const double scale = normalization_scale(normalization, self.sizes(), dims);
  std::vector<int64_t> shape = self.sizes().vec();
  const int64_t last = c10::maybe_wrap_dim(dims.back(), self.dim());
  shape[last] = shape[last] / 2 + 1;
  const at::Tensor result = result_for(self, shape, complex_type, out);
  return run(result, [&](const at::Tensor& target) {
    launch(target, hal::FftR2C{describe_interleaved(target), describe(self),
                               kernel_dims(dims, self.dim()), scale});
  });
}

at::Tensor c2r(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization,
               const c10::SymInt& last_dim_size, const at::Tensor& out) {
  check_input(self, true, "_fft_c2r");
  TORCH_CHECK(!dims.empty(), "_fft_c2r: no dimension to transform");
  c10::DeviceGuard guard(self.device());
  const int64_t last = c10::maybe_wrap_dim(dims.back(), self.dim());
  const int64_t n = last_dim_size.expect_int();
  TORCH_CHECK(n >= 1, "Invalid number of data points (", n, ") specified");
  TORCH_CHECK(self.size(last) >= n / 2 + 1, "_fft_c2r: the input holds ", self.size(last),
              " values along dim ", last, ", fewer than the ", n / 2 + 1, " of a signal of ", n);
  // Only the first n / 2 + 1 values of the half spectrum are read.
  const at::Tensor in = self.narrow(last, 0, n / 2 + 1).resolve_conj();
  std::vector<int64_t> shape = self.sizes().vec();
  shape[last] = n;
  const double scale = normalization_scale(normalization, shape, dims);
  const at::Tensor result = result_for(self, shape, c10::toRealValueType(self.scalar_type()), out);
  return run(result, [&](const at::Tensor& target) {
    launch(target, hal::FftC2R{describe(target), describe_interleaved(in),
                               kernel_dims(dims, self.dim()), scale});
  });
}

at::Tensor fft_c2c(const at::Tensor& self, c10::SymIntArrayRef dims, int64_t normalization,
                   bool forward) {
  return c2c(self, dims, normalization, forward, at::Tensor());
}
at::Tensor& fft_c2c_out(const at::Tensor& self, c10::SymIntArrayRef dims, int64_t normalization,
                        bool forward, at::Tensor& out) {
  c2c(self, dims, normalization, forward, out);
  return out;
}
at::Tensor fft_r2c(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization,
                   bool onesided) {
  return r2c(self, dims, normalization, onesided, at::Tensor());
}
at::Tensor& fft_r2c_out(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization,
                        bool onesided, at::Tensor& out) {
  r2c(self, dims, normalization, onesided, out);
  return out;
}
at::Tensor fft_c2r(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization,
                   c10::SymInt last_dim_size) {
  return c2r(self, dims, normalization, last_dim_size, at::Tensor());
}
at::Tensor& fft_c2r_out(const at::Tensor& self, at::IntArrayRef dims, int64_t normalization,
                        c10::SymInt last_dim_size, at::Tensor& out) {
  c2r(self, dims, normalization, last_dim_size, out);
  return out;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_fft_c2c", fft_c2c);
  m.impl("_fft_c2c.out", fft_c2c_out);
  m.impl("_fft_r2c", fft_r2c);
  m.impl("_fft_r2c.out", fft_r2c_out);
  m.impl("_fft_c2r", fft_c2r);
  m.impl("_fft_c2r.out", fft_c2r_out);
}

}  // namespace
}  // namespace torch_mlu::ops
