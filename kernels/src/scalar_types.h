// Storage types of the library's dtypes and conversions between them, computed in float for the
// 16-bit floating types.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The 16-bit floating types are storage only: kernels load them as float, compute, and round once
// on store. Where F16C is compiled in (every x86-64-v3 and v4 variant), a float16 conversion is
// its one instruction; elsewhere inline integer code rather than the compiler's _Float16, whose
// conversions are library calls on x86-64 without F16C (10x slower per element). The integer
// code took about 25 operations an element and vectorised only in the simplest loops: float16
// gathers, pooling, interpolation, dropout and losses ran 2-9x float32's time on AVX2.
struct BFloat16 {
  std::uint16_t bits;
};

struct Half {
  std::uint16_t bits;
};

inline float to_float(BFloat16 v) { return std::bit_cast<float>(std::uint32_t{v.bits} << 16); }

inline BFloat16 to_bfloat16(float f) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if (std::isnan(f)) return BFloat16{0x7fc0};
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return BFloat16{static_cast<std::uint16_t>(u >> 16)};
}

// Without F16C both Half conversions choose between candidate results with masks instead of
// branches so that loops over them vectorise; comparisons are on magnitudes below 2^31, as signed
// integers.
inline std::uint32_t select(bool condition, std::uint32_t if_true, std::uint32_t if_false) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
  return (if_true & mask) | (if_false & ~mask);
}

inline float to_float(Half v) {
#if defined(__F16C__)
  return _cvtsh_ss(v.bits);
#else
  const std::uint32_t sign = std::uint32_t{v.bits & 0x8000u} << 16;
  const std::int32_t magnitude = v.bits & 0x7fff;
  const std::uint32_t shifted = static_cast<std::uint32_t>(magnitude) << 13;
  const std::uint32_t special = shifted | 0x7f800000u;          // infinity, NaN with its payload
  const std::uint32_t normal = shifted + ((127u - 15u) << 23);  // rebias the exponent
  const std::uint32_t subnormal =                               // magnitude counts units of 2^-24
      std::bit_cast<std::uint32_t>(static_cast<float>(magnitude) * 0x1p-24f);
  const std::uint32_t finite = select(magnitude >= 0x0400, normal, subnormal);
  return std::bit_cast<float>(select(magnitude >= 0x7c00, special, finite) | sign);
#endif
}

inline Half to_half(float f) {
#if defined(__F16C__)
  return Half{_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
#else
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::int32_t magnitude = static_cast<std::int32_t>(bits & 0x7fffffffu);
  // Normal half: rebias, round 23 mantissa bits to 10 to nearest even (a carry into the exponent
  // is the correct result).
  const std::uint32_t m = static_cast<std::uint32_t>(magnitude) - ((127u - 15u) << 23);
  const std::uint32_t normal = (m + 0xfffu + ((m >> 13) & 1u)) >> 13;
  // Subnormal half or zero: adding 0.5 makes the float's own rounding round to a multiple of 2^-24.
  const std::uint32_t subnormal =
      std::bit_cast<std::uint32_t>(std::bit_cast<float>(magnitude) + 0.5f) -
      std::bit_cast<std::uint32_t>(0.5f);
  std::uint32_t out = select(magnitude >= 0x38800000, normal, subnormal);
  out = select(magnitude >= 0x477ff000, 0x7c00u, out);  // 65520 and above: infinity
  out = select(magnitude > 0x7f800000, 0x7e00u, out);   // NaN
  return Half{static_cast<std::uint16_t>(sign | out)};
#endif
}

template <typename T>
constexpr bool kReducedFloat = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

template <typename T>
constexpr bool kFloatingStorage = std::is_floating_point_v<T> || kReducedFloat<T>;

// The type a kernel computes in for storage type T: float for the 16-bit floating types.
template <typename T>
using ComputeType = std::conditional_t<kReducedFloat<T>, float, T>;

// Converts between any two storage types with C++ semantics, bool as v != 0.
template <typename To, typename From>
inline To convert(From v) {
  if constexpr (kReducedFloat<From>) {
    return convert<To>(to_float(v));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return to_bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return to_half(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else {
    return static_cast<To>(v);
  }
}

// Calls f(T{}) with the storage type of dtype.
template <typename F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    case DType::Int8: return f(std::int8_t{});
    case DType::Int16: return f(std::int16_t{});
    case DType::Int32: return f(std::int32_t{});
    case DType::Int64: return f(std::int64_t{});
    case DType::UInt8: return f(std::uint8_t{});
    case DType::Bool: return f(bool{});
  }
  throw KernelError("unknown dtype");
}

// Calls f(T{}) with the storage type of a floating dtype; any other dtype is an error of kernel.
template <typename F>
void visit_floating(DType dtype, const char* kernel, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    default:
      throw KernelError(std::string(kernel) + ": needs a floating-point tensor, got " +
                        dtype_name(dtype));
  }
}

// Calls f(T{}) with the component type of a complex tensor's interleaved dtype, which its caller
// has checked is float32 or float64.
template <typename F>
void visit_component(DType dtype, F&& f) {
  if (dtype == DType::Float64) {
    f(double{});
  } else {
    f(float{});
  }
}

}  // namespace mlu::kernels
