#include "mlu_kernels/elementwise.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "activation_math.h"
#include "convert_block.h"
#include "scalar_types.h"
#include "strided_loop.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace {

// The unsigned integer of N bytes, void for other sizes (complex doubles).
template <std::size_t N>
using UnsignedOfSize = std::conditional_t<
    N == 1, std::uint8_t,
    std::conditional_t<N == 2, std::uint16_t,
                       std::conditional_t<N == 4, std::uint32_t,
                                          std::conditional_t<N == 8, std::uint64_t, void>>>>;

// Contiguous float16 rows in blocks: the operands are widened into float buffers by
// convert_block's conversion instructions, f runs on the buffers as on float32 rows, and the
// results are rounded back. An input of stride 0 (a value along the row, as a gradient broadcast
// over a reduced dimension) fills its buffer once. Per element the values are those of the
// per-element loop (NaN payloads aside), whose per-element conversions (integer code, before
// scalar_types.h used F16C) made float16 kernels 3.5-5x slower than float32; a float16 row plus
// a broadcast value took 5x float32's time with the F16C ones.
// Bfloat16's fused loop is faster than blocks (1M-element add: 144 against 201 us).
template <int N, typename F>
void map_float16_row(const std::array<char*, N>& p, const std::array<std::int64_t, N>& s,
                     std::int64_t n, F& f) {
  constexpr std::int64_t kBlock = 256;
  float in[N - 1][kBlock], out[kBlock];
  for (int k = 0; k < N - 1; ++k) {
    if (s[k + 1] == 0) {
      std::fill_n(in[k], std::min(kBlock, n), to_float(*reinterpret_cast<const Half*>(p[k + 1])));
    }
  }
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const std::int64_t m = std::min(kBlock, n - start);
    for (int k = 0; k < N - 1; ++k) {
      if (s[k + 1] != 0) convert_block(in[k], reinterpret_cast<const Half*>(p[k + 1]) + start, m);
    }
    for (std::int64_t i = 0; i < m; ++i) {
      if constexpr (N == 2)
        out[i] = f(in[0][i]);
      else if constexpr (N == 3)
        out[i] = f(in[0][i], in[1][i]);
      else
        out[i] = f(in[0][i], in[1][i], in[2][i]);
    }
    convert_block(reinterpret_cast<Half*>(p[0]) + start, out, m);
  }
}

// body(i, stride_of) for the n elements of a row, with everything it calls inlined: GCC stops
// inlining once this file's many instantiations have grown it, and a call per element does not
// vectorise (GELU's row of 262K floats: 860 us, 8x PyTorch CPU's time).
template <typename Body, typename Stride>
[[gnu::flatten]] void row_loop(std::int64_t n, const Body& body, Stride stride_of) {
  for (std::int64_t i = 0; i < n; ++i) body(i, stride_of);
}

// out[i] = f(in_0[i], ..., in_{K-1}[i]) over operands of storage type T computed as ComputeType<T>.
template <typename T, typename Out = T, typename F, typename... Ins>
void map(const TensorDesc& out, F f, const Ins&... ins) {
  using C = ComputeType<T>;
  constexpr int N = 1 + sizeof...(Ins);
  for_each_row<N>({&out, &ins...}, [&](auto p, auto s, std::int64_t n) {
    bool contiguous = s[0] == sizeof(Out), blockable = contiguous;
    for (int k = 1; k < N; ++k) {
      contiguous = contiguous && s[k] == sizeof(T);
      blockable = blockable && (s[k] == sizeof(T) || s[k] == 0);
    }
    if constexpr (std::is_same_v<T, Half> && std::is_same_v<Out, Half>) {
      if (blockable) return map_float16_row<N>(p, s, n, f);
    }
    // A local copy of f: the stores through dst could alias the values f captured (a clamp's
    // bounds), which the loop then reloads at every element and does not vectorise.
    const F fn = f;
    auto body = [&](std::int64_t i, auto stride_of) {
      auto load = [&](int k) {
        return convert<C>(*reinterpret_cast<const T*>(p[k] + i * stride_of(k)));
      };
      auto* dst = reinterpret_cast<Out*>(p[0] + i * stride_of(0));
      if constexpr (N == 2)
        *dst = convert<Out>(fn(load(1)));
      else if constexpr (N == 3)
        *dst = convert<Out>(fn(load(1), load(2)));
      else
        *dst = convert<Out>(fn(load(1), load(2), load(3)));
    };
    // Constant element strides let the compiler vectorise the loop; input kZero (if any) is a
    // value along the row (a 0-d tensor, such as a capturable optimizer's bias correction), which
    // took the strided loop before: 1M elements times a 0-d tensor 540-630 us there, 115 us here.
    auto constant_strides = [&]<int kZero>() {
      row_loop(n, body, [](int k) {
        return static_cast<std::int64_t>(k == kZero ? 0 : k == 0 ? sizeof(Out) : sizeof(T));
      });
    };
    if (contiguous) return constant_strides.template operator()<-1>();
    if constexpr (N == 3) {
      if (s[0] == sizeof(Out) && s[1] == sizeof(T) && s[2] == 0)
        return constant_strides.template operator()<2>();
      if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(T))
        return constant_strides.template operator()<1>();
    }
    row_loop(n, body, [&](int k) { return s[k]; });
  });
}

// Calls f.template operator()<T, C>() for a floating out dtype (not when out is empty); other
// dtypes are an error.
template <typename F>
void visit_floating_compute(const TensorDesc& out, const char* name, F&& f) {
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!kFloatingStorage<T>) {
      throw KernelError(std::string(name) + " needs a floating-point tensor");
    } else {
      if (out.numel() > 0) f.template operator()<T, ComputeType<T>>();
    }
  });
}

// Every operand of ins has out's shape and dtype.
void check_operands(const TensorDesc& out, std::initializer_list<const TensorDesc*> ins,
                    const char* name) {
  for (const TensorDesc* d : ins) {
    check_same_shape(out, *d, name);
    if (d->dtype != out.dtype) throw KernelError(std::string(name) + ": operand dtypes differ");
  }
}

// PyTorch's lerp, exact at both ends.
template <typename C>
C lerp(C x, C y, C w) {
  return std::abs(w) < C(0.5) ? C(x + w * (y - x)) : C(y - (y - x) * (C(1) - w));
}

// floor, ceil, round (half to even) and trunc of a floating tensor.
template <typename T>
void round_like(UnaryOp op, const TensorDesc& out, const TensorDesc& in) {
  switch (op) {
    case UnaryOp::Floor: return map<T>(out, [](auto x) { return std::floor(x); }, in);
    case UnaryOp::Ceil: return map<T>(out, [](auto x) { return std::ceil(x); }, in);
    case UnaryOp::Round: return map<T>(out, [](auto x) { return std::nearbyint(x); }, in);
    default: return map<T>(out, [](auto x) { return std::trunc(x); }, in);
  }
}

template <typename T>
void unary_typed(UnaryOp op, const TensorDesc& out, const TensorDesc& in, double param) {
  using C = ComputeType<T>;
  const C p = static_cast<C>(param);
  constexpr bool integral = std::is_integral_v<C>;
  auto floating = [&](auto f) {
    if constexpr (integral)
      throw KernelError("this operation needs a floating-point tensor");
    else
      map<T>(out, f, in);
  };
  switch (op) {
    case UnaryOp::Neg: return map<T>(out, [](C x) { return C(-x); }, in);
    case UnaryOp::Abs: return map<T>(out, [](C x) { return x < C(0) ? C(-x) : x; }, in);
    case UnaryOp::Relu: return map<T>(out, [](C x) { return relu(x); }, in);
    case UnaryOp::Sign: return map<T>(out, [](C x) { return C((C(0) < x) - (x < C(0))); }, in);
    case UnaryOp::ClampMin:
      return map<T>(out, [p](C x) { return std::isnan(double(x)) ? x : std::max(x, p); }, in);
    case UnaryOp::ClampMax:
      return map<T>(out, [p](C x) { return std::isnan(double(x)) ? x : std::min(x, p); }, in);
    case UnaryOp::LogicalNot: return map<T>(out, [](C x) { return C(!x); }, in);
    case UnaryOp::BitwiseNot:
      if constexpr (std::is_same_v<C, bool>)
        return map<T>(out, [](C x) { return !x; }, in);
      else if constexpr (integral)
        return map<T>(out, [](C x) { return C(~x); }, in);
      else
        throw KernelError("bitwise_not needs an integer or bool tensor");
    case UnaryOp::Exp: return floating([](auto x) { return vexp(x); });
    case UnaryOp::Log: return floating([](auto x) { return vlog(x); });
    case UnaryOp::Log1p: return floating([](auto x) { return vlog1p(x); });
    case UnaryOp::Log2: return floating([](auto x) { return std::log2(x); });
    case UnaryOp::Log10: return floating([](auto x) { return std::log10(x); });
    case UnaryOp::Expm1: return floating([](auto x) { return std::expm1(x); });
    case UnaryOp::Sqrt: return floating([](auto x) { return std::sqrt(x); });
    case UnaryOp::Rsqrt: return floating([](auto x) { return C(1) / std::sqrt(x); });
    case UnaryOp::Reciprocal: return floating([](auto x) { return C(1) / x; });
    case UnaryOp::Sin: return floating([](auto x) { return std::sin(x); });
    case UnaryOp::Cos: return floating([](auto x) { return std::cos(x); });
    case UnaryOp::Tanh: return floating([](auto x) { return vtanh(x); });
    case UnaryOp::Sigmoid: return floating([](auto x) { return vsigmoid(x); });
    case UnaryOp::Erf: return floating([](auto x) { return verf(x); });
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Trunc:
      if constexpr (integral)
        return map<T>(out, [](C x) { return x; }, in);  // already whole
      else
        return round_like<T>(op, out, in);
    case UnaryOp::Gelu: return floating([](auto x) { return gelu(x); });
    case UnaryOp::GeluTanh: return floating([](auto x) { return gelu_tanh(x); });
    case UnaryOp::Silu: return floating([](auto x) { return silu(x); });
    case UnaryOp::Mish: return floating([](auto x) { return x * vtanh(vlog1p(vexp(x))); });
    case UnaryOp::LogSigmoid:  // -softplus(-x), stable for large |x|
      return floating([](auto x) { return std::min(x, C(0)) - vlog1p(vexp(-std::abs(x))); });
    case UnaryOp::Hardswish:
      return floating([](auto x) { return x * std::min(std::max(x + C(3), C(0)), C(6)) / C(6); });
    case UnaryOp::Hardsigmoid:
      return floating([](auto x) { return std::min(std::max(x + C(3), C(0)), C(6)) / C(6); });
    case UnaryOp::LeakyRelu: return floating([p](auto x) { return x > C(0) ? x : x * p; });
    case UnaryOp::PowScalar:
      // PyTorch CPU's special exponents, which vectorise; the others call the C library's pow.
      // CPU's float16 takes pow for 0.5 and -0.5 (they differ from square roots at -inf and -0).
      if (param == 2) return floating([](auto x) { return x * x; });
      if (param == 3) return floating([](auto x) { return x * x * x; });
      if (param == 0.5 && !std::is_same_v<T, Half>)
        return floating([](auto x) { return std::sqrt(x); });
      if (param == -0.5 && !std::is_same_v<T, Half>)
        return floating([](auto x) { return C(1) / std::sqrt(x); });
      if (param == -1) return floating([](auto x) { return C(1) / x; });
      if (param == -2) return floating([](auto x) { return C(1) / (x * x); });
      return floating([p](auto x) { return std::pow(x, p); });
  }
  throw KernelError("unknown unary operation");
}

// a / b and a % b of integers, truncated. Division by zero is a kernel error; the quotient that
// overflows, MIN / -1, wraps to MIN as on PyTorch CPU instead of trapping (SIGFPE on x86-64).
template <typename C>
C int_quotient(C a, C b) {
  if (b == 0) throw KernelError("integer division by zero");
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return static_cast<C>(C(0) - static_cast<std::make_unsigned_t<C>>(a));
  }
  return C(a / b);
}
template <typename C>
C int_remainder(C a, C b) {
  if (b == 0) throw KernelError("integer division by zero");
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return C(0);
  }
  return C(a % b);
}

template <typename C>
C floor_divide(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    const C q = int_quotient(a, b);
    return (int_remainder(a, b) != 0 && ((a < 0) != (b < 0))) ? C(q - 1) : q;
  } else {
    // PyTorch CPU's div_floor_floating: floor(a / b) rounded from the exact quotient a - fmod.
    if (b == 0) return a / b;
    const C mod = std::fmod(a, b);
    C div = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0)) div -= C(1);
    if (div == 0) return std::copysign(C(0), a / b);
    C floored = std::floor(div);
    if (div - floored > C(0.5)) floored += C(1);
    return floored;
  }
}

template <typename C>
C trunc_divide(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    return int_quotient(a, b);
  } else {
    return std::trunc(a / b);
  }
}

template <typename C>
C remainder(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    C r = int_remainder(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    C r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  }
}

template <typename C>
C integer_pow(C base, C exp) {
  if (exp < 0) return base == 1 ? C(1) : (base == -1 ? (exp % 2 ? C(-1) : C(1)) : C(0));
  C result = 1;
  while (exp) {
    if (exp & 1) result *= base;
    base *= base;
    exp >>= 1;
  }
  return result;
}

// apply(f) maps f(x, y) over the operands, whatever they are (two tensors, a tensor and a number).
template <typename T, typename Apply>
void binary_typed(BinaryOp op, double alpha_value, Apply&& apply) {
  using C = ComputeType<T>;
  const C alpha = static_cast<C>(alpha_value);
  constexpr bool integral = std::is_integral_v<C>;
  constexpr bool boolean = std::is_same_v<C, bool>;
  auto floating = [&](auto f) {
    if constexpr (integral)
      throw KernelError("this operation needs floating-point tensors");
    else
      apply(f);
  };
  auto bitwise = [&](auto f) {
    if constexpr (integral)
      apply(f);
    else
      throw KernelError("bitwise operations need integer or bool tensors");
  };
  switch (op) {
    case BinaryOp::Add:
      if constexpr (boolean)
        return apply([alpha](C x, C y) { return C(x || (alpha && y)); });
      else if (alpha_value == 1)
        return apply([](C x, C y) { return C(x + y); });
      else
        return apply([alpha](C x, C y) { return C(x + alpha * y); });
    case BinaryOp::Sub:
      if (alpha_value == 1) return apply([](C x, C y) { return C(x - y); });
      return apply([alpha](C x, C y) { return C(x - alpha * y); });
    case BinaryOp::Mul:
      if constexpr (boolean)
        return apply([](C x, C y) { return C(x && y); });
      else
        return apply([](C x, C y) { return C(x * y); });
    case BinaryOp::Div:
      if constexpr (integral) {
        return apply([](C x, C y) { return int_quotient(x, y); });
      } else {
        return apply([](C x, C y) { return x / y; });
      }
    case BinaryOp::Maximum:
      return apply([](C x, C y) {
        return std::isnan(double(x)) ? x : (x > y || std::isnan(double(y)) ? (x > y ? x : y) : y);
      });
    case BinaryOp::Minimum:
      return apply([](C x, C y) {
        return std::isnan(double(x)) ? x : (x < y || std::isnan(double(y)) ? (x < y ? x : y) : y);
      });
    case BinaryOp::Pow:
      if constexpr (boolean)
        return apply([](C x, C y) { return C(x || !y); });
      else if constexpr (integral)
        return apply([](C x, C y) { return integer_pow(x, y); });
      else
        return apply([](C x, C y) { return std::pow(x, y); });
    case BinaryOp::Remainder:
      if constexpr (boolean)
        throw KernelError("remainder is not defined for bool");
      else
        return apply([](C x, C y) { return remainder(x, y); });
    case BinaryOp::Fmod:
      if constexpr (boolean)
        throw KernelError("fmod is not defined for bool");
      else if constexpr (integral)
        return apply([](C x, C y) { return int_remainder(x, y); });
      else
        return apply([](C x, C y) { return C(std::fmod(x, y)); });
    case BinaryOp::FloorDivide:
      if constexpr (boolean)
        throw KernelError("floor_divide is not defined for bool");
      else
        return apply([](C x, C y) { return floor_divide(x, y); });
    case BinaryOp::TruncDivide:
      if constexpr (boolean)
        throw KernelError("trunc division is not defined for bool");
      else
        return apply([](C x, C y) { return trunc_divide(x, y); });
    case BinaryOp::Atan2: return floating([](auto x, auto y) { return std::atan2(x, y); });
    case BinaryOp::BitwiseAnd: return bitwise([](auto x, auto y) { return C(x & y); });
    case BinaryOp::BitwiseOr: return bitwise([](auto x, auto y) { return C(x | y); });
    case BinaryOp::BitwiseXor: return bitwise([](auto x, auto y) { return C(x ^ y); });
    case BinaryOp::LogicalAnd: return apply([](C x, C y) { return C(x && y); });
    case BinaryOp::LogicalOr: return apply([](C x, C y) { return C(x || y); });
    case BinaryOp::ThresholdBackward:
      return apply([alpha](C g, C x) { return x <= alpha ? C(0) : g; });
    case BinaryOp::SigmoidBackward:
      return floating([](auto g, auto y) { return g * y * (C(1) - y); });
    case BinaryOp::TanhBackward: return floating([](auto g, auto y) { return g * (C(1) - y * y); });
    case BinaryOp::GeluBackward:
      return floating([](auto g, auto x) {
        const C cdf = C(0.5) * (C(1) + verf(x * C(kSqrt1_2)));
        const C pdf = C(kInvSqrt2Pi) * vexp(C(-0.5) * x * x);
        return g * (cdf + x * pdf);
      });
    case BinaryOp::GeluTanhBackward:
      return floating([](auto g, auto x) {
        const C x_sq = x * x;
        const C inner = C(kSqrt2OverPi) * (x + C(kGeluKappa) * x_sq * x);
        const C t = vtanh(inner);
        const C left_derivative = C(0.5) * (C(1) + t);
        const C right_derivative =
            C(0.5) * x * (C(1) - t * t) * C(kSqrt2OverPi) * (C(1) + C(3 * kGeluKappa) * x_sq);
        return g * (left_derivative + right_derivative);
      });
    case BinaryOp::SiluBackward:
      return floating([](auto g, auto x) {
        const C s = vsigmoid(x);
        return g * s * (C(1) + x * (C(1) - s));
      });
    case BinaryOp::MishBackward:
      return floating([](auto g, auto x) {
        const C t = vtanh(vlog1p(vexp(x)));
        return g * (t + x * vsigmoid(x) * (C(1) - t * t));
      });
    case BinaryOp::HardswishBackward:
      return floating([](auto g, auto x) {
        if (x < C(-3)) return C(0);
        return x <= C(3) ? g * (x / C(3) + C(0.5)) : g;
      });
    case BinaryOp::HardsigmoidBackward:
      return floating([](auto g, auto x) { return (x > C(-3) && x < C(3)) ? g / C(6) : C(0); });
    case BinaryOp::LeakyReluBackward:
      return floating([alpha](auto g, auto x) { return x > C(0) ? g : g * alpha; });
    case BinaryOp::LogSigmoidBackward:
      return floating([](auto g, auto x) { return g * vsigmoid(C(-x)); });
  }
  throw KernelError("unknown binary operation");
}

}  // namespace

void unary(UnaryOp op, const TensorDesc& out, const TensorDesc& in, double param) {
  check_same_shape(out, in, "unary");
  if (out.dtype != in.dtype) throw KernelError("unary: operand dtypes differ");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) { unary_typed<decltype(t)>(op, out, in, param); });
}

void binary(BinaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
            double alpha) {
  check_same_shape(out, a, "binary");
  check_same_shape(out, b, "binary");
  if (out.dtype != a.dtype || out.dtype != b.dtype)
    throw KernelError("binary: operand dtypes differ");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    binary_typed<T>(op, alpha, [&](auto f) { map<T>(out, f, a, b); });
  });
}

void binary_scalar(BinaryOp op, const TensorDesc& out, const TensorDesc& a, double b,
                   double alpha) {
  check_same_shape(out, a, "binary");
  if (out.dtype != a.dtype) throw KernelError("binary: operand dtypes differ");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    const ComputeType<T> value = static_cast<ComputeType<T>>(b);
    binary_typed<T>(op, alpha,
                    [&](auto f) { map<T>(out, [f, value](auto x) { return f(x, value); }, a); });
  });
}

void ternary(TernaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
             const TensorDesc& c, double value) {
  check_operands(out, {&a, &b, &c}, "ternary");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    using C = ComputeType<T>;
    if constexpr (std::is_same_v<C, bool>) {
      throw KernelError("ternary operations are not defined for bool");
    } else {
      const C v = static_cast<C>(value);
      switch (op) {
        case TernaryOp::AddCMul:
          return map<T>(out, [v](C x, C y, C z) { return C(x + v * y * z); }, a, b, c);
        case TernaryOp::AddCDiv:
          return map<T>(out, [v](C x, C y, C z) { return C(x + v * y / z); }, a, b, c);
        case TernaryOp::Lerp:
          return map<T>(out, [](C x, C y, C w) { return lerp(x, y, w); }, a, b, c);
      }
    }
  });
}

void lerp_scalar(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double weight) {
  check_operands(out, {&a, &b}, "lerp");
  visit_floating_compute(out, "lerp", [&]<typename T, typename C>() {
    const C w = static_cast<C>(weight);
    map<T>(out, [w](C x, C y) { return lerp(x, y, w); }, a, b);
  });
}

void elu(const TensorDesc& out, const TensorDesc& in, double alpha, double scale,
         double input_scale) {
  check_operands(out, {&in}, "elu");
  visit_floating_compute(out, "elu", [&]<typename T, typename C>() {
    const C negative = C(alpha * scale), positive = C(scale), input = C(input_scale);
    map<T>(
        out, [=](C x) { return x <= C(0) ? std::expm1(x * input) * negative : x * positive; }, in);
  });
}

void elu_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                  double alpha, double scale, double input_scale, bool x_is_result) {
  check_operands(grad_in, {&grad_out, &x}, "elu_backward");
  visit_floating_compute(grad_in, "elu_backward", [&]<typename T, typename C>() {
    const C negative = C(alpha * scale), positive = C(scale), input = C(input_scale);
    if (x_is_result) {
      map<T>(
          grad_in, [=](C g, C y) { return y <= C(0) ? g * input * (y + negative) : g * positive; },
          grad_out, x);
    } else {
      map<T>(
          grad_in,
          [=](C g, C v) {
            return v <= C(0) ? g * input * negative * vexp(v * input) : g * positive;
          },
          grad_out, x);
    }
  });
}

void softplus(const TensorDesc& out, const TensorDesc& in, double beta, double threshold) {
  check_operands(out, {&in}, "softplus");
  visit_floating_compute(out, "softplus", [&]<typename T, typename C>() {
    const C b = C(beta), limit = C(threshold);
    map<T>(out, [=](C x) { return x * b > limit ? x : vlog1p(vexp(x * b)) / b; }, in);
  });
}

void softplus_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double beta, double threshold) {
  check_operands(grad_in, {&grad_out, &x}, "softplus_backward");
  visit_floating_compute(grad_in, "softplus_backward", [&]<typename T, typename C>() {
    const C b = C(beta), limit = C(threshold);
    map<T>(
        grad_in,
        [=](C g, C v) {
          const C z = vexp(v * b);
          return v * b > limit ? g : g * z / (z + C(1));
        },
        grad_out, x);
  });
}

void hardtanh_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double min, double max) {
  check_operands(grad_in, {&grad_out, &x}, "hardtanh_backward");
  visit_floating_compute(grad_in, "hardtanh_backward", [&]<typename T, typename C>() {
    const C low = C(min), high = C(max);
    map<T>(grad_in, [=](C g, C v) { return v <= low || v >= high ? C(0) : g; }, grad_out, x);
  });
}

void compare(CompareOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b) {
  check_same_shape(out, a, "compare");
  check_same_shape(out, b, "compare");
  if (out.dtype != DType::Bool || a.dtype != b.dtype) {
    throw KernelError("compare: out must be bool and inputs share a dtype");
  }
  if (out.numel() == 0) return;
  visit_dtype(a.dtype, [&](auto t) {
    using T = decltype(t);
    using C = ComputeType<T>;
    switch (op) {
      case CompareOp::Eq: return map<T, bool>(out, [](C x, C y) { return x == y; }, a, b);
      case CompareOp::Ne: return map<T, bool>(out, [](C x, C y) { return x != y; }, a, b);
      case CompareOp::Lt: return map<T, bool>(out, [](C x, C y) { return x < y; }, a, b);
      case CompareOp::Le: return map<T, bool>(out, [](C x, C y) { return x <= y; }, a, b);
      case CompareOp::Gt: return map<T, bool>(out, [](C x, C y) { return x > y; }, a, b);
      case CompareOp::Ge: return map<T, bool>(out, [](C x, C y) { return x >= y; }, a, b);
    }
  });
}

void where(const TensorDesc& out, const TensorDesc& cond, const TensorDesc& a,
           const TensorDesc& b) {
  check_same_shape(out, cond, "where");
  check_same_shape(out, a, "where");
  check_same_shape(out, b, "where");
  if (cond.dtype != DType::Bool || out.dtype != a.dtype || out.dtype != b.dtype) {
    throw KernelError("where: cond must be bool and the values share out's dtype");
  }
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    const std::size_t size = sizeof(T);
    for_each_row<4>({&out, &cond, &a, &b}, [size](auto p, auto s, std::int64_t n) {
      using Bits = UnsignedOfSize<sizeof(T)>;  // the values' bits, whatever they mean
      if constexpr (!std::is_void_v<Bits>) {
        if (s[0] == sizeof(T) && s[1] == 1 && s[2] == sizeof(T) && s[3] == sizeof(T)) {
          // Contiguous rows as a select by masks, which vectorises (1M floats, random
          // conditions: 327 us copying element by element, 273 us so; GCC compiled `c ? x : y`
          // into a branch, 1.9 ms).
          Bits* o = reinterpret_cast<Bits*>(p[0]);
          const bool* c = reinterpret_cast<const bool*>(p[1]);
          const Bits* x = reinterpret_cast<const Bits*>(p[2]);
          const Bits* y = reinterpret_cast<const Bits*>(p[3]);
          for (std::int64_t i = 0; i < n; ++i) {
            const auto chosen = static_cast<Bits>(-static_cast<Bits>(c[i]));  // all ones or none
            o[i] = static_cast<Bits>((x[i] & chosen) | (y[i] & ~chosen));
          }
          return;
        }
      }
      for (std::int64_t i = 0; i < n; ++i) {
        const bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
        const char* chosen = c ? p[2] + i * s[2] : p[3] + i * s[3];
        if (chosen != p[0] + i * s[0])
          std::memcpy(p[0] + i * s[0], chosen, size);  // in place: nothing to do
      }
    });
  });
}

void clamp(const TensorDesc& out, const TensorDesc& in, const double* lo, const double* hi) {
  check_same_shape(out, in, "clamp");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    using C = ComputeType<T>;
    // A missing bound is the type's end, so that the loop is two selects and vectorises; a NaN
    // x fails both comparisons and stays NaN.
    using Limits = std::numeric_limits<C>;
    const C low = lo                     ? static_cast<C>(*lo)
                  : Limits::has_infinity ? -Limits::infinity()
                                         : Limits::lowest();
    const C high = hi                     ? static_cast<C>(*hi)
                   : Limits::has_infinity ? Limits::infinity()
                                          : Limits::max();
    map<T>(
        out,
        [=](C x) {
          const C y = x < low ? low : x;
          return y > high ? high : y;
        },
        in);
  });
}

}  // namespace mlu::kernels
