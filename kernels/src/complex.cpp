#include "mlu_kernels/complex.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>

#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {
namespace {

// The complex numbers of an interleaved view: its shape without the last dimension, whose
// elements each start with the real part.
TensorDesc complex_elements(const TensorDesc& interleaved, const char* kernel) {
  const bool floating = interleaved.dtype == DType::Float32 || interleaved.dtype == DType::Float64;
  const int last = interleaved.ndim - 1;
  if (!floating || last < 0 || interleaved.sizes[last] != 2 || interleaved.strides[last] != 1) {
    throw KernelError(std::string(kernel) +
                      ": a complex operand must be an interleaved float32 or float64 view "
                      "(a last dimension of size 2 and stride 1)");
  }
  TensorDesc elements = interleaved;
  elements.ndim = last;
  return elements;
}

void check_real(const TensorDesc& real, const TensorDesc& complex, const char* kernel) {
  if (real.dtype != complex.dtype) {
    throw KernelError(std::string(kernel) + ": the real operand's dtype " + dtype_name(real.dtype) +
                      " is not the complex one's component dtype " + dtype_name(complex.dtype));
  }
  check_same_shape(real, complex, kernel);
}

template <typename T>
std::complex<T> load(const char* p) {
  const T* v = reinterpret_cast<const T*>(p);
  return {v[0], v[1]};
}

template <typename T>
void store(char* p, std::complex<T> z) {
  T* v = reinterpret_cast<T*>(p);
  v[0] = z.real();
  v[1] = z.imag();
}

// Products and quotients written out: std::complex's own call libgcc's NaN-recovering helpers
// (__mulsc3) per element. Division scales both operands by the divisor's larger part, without
// branches, as PyTorch CPU's vectorised kernel does, so that |divisor|^2 cannot overflow.
template <typename T>
std::complex<T> multiply(std::complex<T> a, std::complex<T> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

template <typename T>
std::complex<T> divide(std::complex<T> a, std::complex<T> b) {
  const T inverse_scale = T(1) / std::max(std::abs(b.real()), std::abs(b.imag()));
  const T ar = a.real() * inverse_scale, ai = a.imag() * inverse_scale;
  const T c = b.real() * inverse_scale, d = b.imag() * inverse_scale;
  const T denominator = c * c + d * d;
  return {(ar * c + ai * d) / denominator, (ai * c - ar * d) / denominator};
}

// alpha * b, without cross terms for a real alpha (inf * 0 would make them NaN).
template <typename T>
std::complex<T> scaled(std::complex<T> alpha, std::complex<T> b) {
  if (alpha.imag() == T(0)) return {alpha.real() * b.real(), alpha.real() * b.imag()};
  return multiply(alpha, b);
}

// out[k] = f(in[k]) over complex elements: f is inlined into the loop, and unit strides (both
// operands dense) get a loop over plain arrays that the compiler can vectorise.
template <typename T, typename F>
void map_complex(const TensorDesc& out, const TensorDesc& in, F f) {
  for_each_row<2>({&out, &in}, [f](auto p, auto s, std::int64_t n) {
    if (s[0] == 2 * sizeof(T) && s[1] == 2 * sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* i = reinterpret_cast<const T*>(p[1]);
      for (std::int64_t k = 0; k < n; ++k) {
        const std::complex<T> z = f(std::complex<T>{i[2 * k], i[2 * k + 1]});
        o[2 * k] = z.real();
        o[2 * k + 1] = z.imag();
      }
      return;
    }
    for (std::int64_t k = 0; k < n; ++k) store<T>(p[0] + k * s[0], f(load<T>(p[1] + k * s[1])));
  });
}

template <typename T, typename F>
void zip_complex(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, F f) {
  for_each_row<3>({&out, &a, &b}, [f](auto p, auto s, std::int64_t n) {
    if (s[0] == 2 * sizeof(T) && s[1] == 2 * sizeof(T) && s[2] == 2 * sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const T* y = reinterpret_cast<const T*>(p[2]);
      for (std::int64_t k = 0; k < n; ++k) {
        const std::complex<T> z =
            f(std::complex<T>{x[2 * k], x[2 * k + 1]}, std::complex<T>{y[2 * k], y[2 * k + 1]});
        o[2 * k] = z.real();
        o[2 * k + 1] = z.imag();
      }
      return;
    }
    for (std::int64_t k = 0; k < n; ++k) {
      store<T>(p[0] + k * s[0], f(load<T>(p[1] + k * s[1]), load<T>(p[2] + k * s[2])));
    }
  });
}

// |z| as PyTorch CPU's vectorised kernel computes it, sqrt(re^2 + im^2) (hypot's overflow
// guard makes it a slow library call), with float's squares summed in double so that they cannot
// overflow.
template <typename T>
T magnitude(std::complex<T> z) {
  using Wide = std::conditional_t<std::is_same_v<T, float>, double, T>;
  const Wide re = z.real(), im = z.imag();
  return static_cast<T>(std::sqrt(re * re + im * im));
}

}  // namespace

void complex_unary(ComplexUnaryOp op, const TensorDesc& out, const TensorDesc& in) {
  const TensorDesc o = complex_elements(out, "complex_unary");
  const TensorDesc i = complex_elements(in, "complex_unary");
  check_same_shape(o, i, "complex_unary");
  if (o.dtype != i.dtype) throw KernelError("complex_unary: operand dtypes differ");
  if (o.numel() == 0) return;
  visit_component(o.dtype, [&](auto t) {
    using T = decltype(t);
    using C = std::complex<T>;
    switch (op) {
      case ComplexUnaryOp::Conj: return map_complex<T>(o, i, [](C z) { return std::conj(z); });
      case ComplexUnaryOp::Neg: return map_complex<T>(o, i, [](C z) { return -z; });
      case ComplexUnaryOp::Reciprocal:
        return map_complex<T>(o, i, [](C z) { return divide(C{1}, z); });
      case ComplexUnaryOp::Sgn:
        return map_complex<T>(o, i, [](C z) {
          const T m = magnitude(z);
          return m == T(0) ? C{} : C{z.real() / m, z.imag() / m};
        });
      case ComplexUnaryOp::Exp: return map_complex<T>(o, i, [](C z) { return std::exp(z); });
    }
  });
}

void complex_to_real(ComplexToRealOp op, const TensorDesc& out, const TensorDesc& in) {
  const TensorDesc i = complex_elements(in, "complex_to_real");
  check_real(out, i, "complex_to_real");
  if (out.numel() == 0) return;
  visit_component(i.dtype, [&](auto t) {
    using T = decltype(t);
    for_each_row<2>({&out, &i}, [op](auto p, auto s, std::int64_t n) {
      if (op == ComplexToRealOp::Abs && s[0] == sizeof(T) && s[1] == 2 * sizeof(T)) {
        T* o = reinterpret_cast<T*>(p[0]);
        const T* z = reinterpret_cast<const T*>(p[1]);
        for (std::int64_t k = 0; k < n; ++k)
          o[k] = magnitude(std::complex<T>{z[2 * k], z[2 * k + 1]});
        return;
      }
      for (std::int64_t k = 0; k < n; ++k) {
        const std::complex<T> z = load<T>(p[1] + k * s[1]);
        *reinterpret_cast<T*>(p[0] + k * s[0]) =
            op == ComplexToRealOp::Abs ? magnitude(z) : std::arg(z);
      }
    });
  });
}

void complex_from_parts(bool polar, const TensorDesc& out, const TensorDesc& re,
                        const TensorDesc& im) {
  const TensorDesc o = complex_elements(out, "complex_from_parts");
  check_real(re, o, "complex_from_parts");
  check_real(im, o, "complex_from_parts");
  if (o.numel() == 0) return;
  visit_component(o.dtype, [&](auto t) {
    using T = decltype(t);
    for_each_row<3>({&o, &re, &im}, [polar](auto p, auto s, std::int64_t n) {
      for (std::int64_t k = 0; k < n; ++k) {
        const T x = *reinterpret_cast<const T*>(p[1] + k * s[1]);
        const T y = *reinterpret_cast<const T*>(p[2] + k * s[2]);
        store<T>(p[0] + k * s[0], polar ? std::polar(x, y) : std::complex<T>{x, y});
      }
    });
  });
}

void complex_binary(ComplexBinaryOp op, const TensorDesc& out, const TensorDesc& a,
                    const TensorDesc& b, double alpha_re, double alpha_im) {
  const TensorDesc o = complex_elements(out, "complex_binary");
  const TensorDesc x = complex_elements(a, "complex_binary");
  const TensorDesc y = complex_elements(b, "complex_binary");
  check_same_shape(o, x, "complex_binary");
  check_same_shape(o, y, "complex_binary");
  if (x.dtype != o.dtype || y.dtype != o.dtype) {
    throw KernelError("complex_binary: operand dtypes differ");
  }
  if (o.numel() == 0) return;
  visit_component(o.dtype, [&](auto t) {
    using T = decltype(t);
    using C = std::complex<T>;
    const C alpha{static_cast<T>(alpha_re), static_cast<T>(alpha_im)};
    const bool unit = alpha == C{1};
    switch (op) {
      case ComplexBinaryOp::Add:
        if (unit) return zip_complex<T>(o, x, y, [](C a, C b) { return a + b; });
        return zip_complex<T>(o, x, y, [alpha](C a, C b) { return a + scaled(alpha, b); });
      case ComplexBinaryOp::Sub:
        if (unit) return zip_complex<T>(o, x, y, [](C a, C b) { return a - b; });
        return zip_complex<T>(o, x, y, [alpha](C a, C b) { return a - scaled(alpha, b); });
      case ComplexBinaryOp::Mul:
        return zip_complex<T>(o, x, y, [](C a, C b) { return multiply(a, b); });
      case ComplexBinaryOp::Div:
        return zip_complex<T>(o, x, y, [](C a, C b) { return divide(a, b); });
    }
  });
}

}  // namespace mlu::kernels
