// Storage types of the library's dtypes and conversions between them, computed in float for the
// 16-bit floating types.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct BFloat16 {
  std::uint16_t bits;
};

inline float to_float(BFloat16 v) {
  std::uint32_t u = static_cast<std::uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline BFloat16 to_bfloat16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (std::isnan(f)) return BFloat16{0x7fc0};
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return BFloat16{static_cast<std::uint16_t>(u >> 16)};
}

// Converts between any two storage types with C++ semantics, bool as v != 0.
template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<From, BFloat16>) {
    return convert<To>(to_float(v));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return to_bfloat16(static_cast<float>(v));
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
    case DType::Float16: return f(_Float16{});
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
    case DType::Float16: return f(_Float16{});
    case DType::BFloat16: return f(BFloat16{});
    default:
      throw KernelError(std::string(kernel) + ": needs a floating-point tensor, got " + dtype_name(dtype));
  }
}

}  // namespace mlu::kernels
