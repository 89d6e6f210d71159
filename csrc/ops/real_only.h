// Operators whose mlu kernels take real tensors only: complex operands (or a complex number) go
// to the CPU fallback, in its ledger, as operators without any mlu kernel do. Registered as
// m.impl("sin", RealOnly<ATEN_OP(sin), sin_kernel>::call); real calls pay one dtype test per
// tensor argument.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/native/CPUFallback.h>

#include <optional>
#include <type_traits>
#include <utility>

#include "../fallback.h"

namespace torch_mlu::ops {

inline bool holds_complex(const at::Tensor& t) {
  return t.defined() && c10::isComplexType(t.scalar_type());
}
inline bool holds_complex(const std::optional<at::Tensor>& t) { return t && holds_complex(*t); }
inline bool holds_complex(at::TensorList list) {
  for (const at::Tensor& t : list) {
    if (holds_complex(t)) return true;
  }
  return false;
}
inline bool holds_complex(const at::Scalar& s) { return s.isComplex(); }
inline bool holds_complex(const std::optional<at::Scalar>& s) { return s && s->isComplex(); }
template <class T>
bool holds_complex(const T&) {
  return false;
}

template <class Op, auto kernel>
struct RealOnly;

template <class Op, class R, class... Args, R (*kernel)(Args...)>
struct RealOnly<Op, kernel> {
  static R call(Args... args) {
    if ((holds_complex(args) || ...)) {
      // A kernel declared with the schema's own types (SymInt) takes the symint form.
      if constexpr (std::is_same_v<R(Args...), typename Op::schema>) {
        return at::native::call_fallback_fn_symint<&cpu_fallback, Op>::call(
            std::forward<Args>(args)...);
      } else {
        return at::native::call_fallback_fn<&cpu_fallback, Op>::call(std::forward<Args>(args)...);
      }
    }
    return kernel(std::forward<Args>(args)...);
  }
};

}  // namespace torch_mlu::ops
