#include "mlu_kernels/range.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "element_loop.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

void check_vector(const TensorDesc& out, const char* kernel) {
  if (out.ndim != 1) throw KernelError(std::string(kernel) + ": out must be 1-D");
}

}  // namespace

void arange(const TensorDesc& out, double start, double step) {
  check_vector(out, "arange");
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    for_each_run<1>({&out}, [&](std::int64_t first, auto p, auto s, std::int64_t n) {
      for (std::int64_t j = 0; j < n; ++j) {
        *reinterpret_cast<T*>(p[0] + j * s[0]) =
            convert<T>(start + step * static_cast<double>(first + j));
      }
    });
  });
}

void arange(const TensorDesc& out, std::int64_t start, std::int64_t step) {
  check_vector(out, "arange");
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    for_each_run<1>({&out}, [&](std::int64_t first, auto p, auto s, std::int64_t n) {
      for (std::int64_t j = 0; j < n; ++j)
        *reinterpret_cast<T*>(p[0] + j * s[0]) = convert<T>(start + step * (first + j));
    });
  });
}

void linspace(const TensorDesc& out, double start_value, double end_value) {
  check_vector(out, "linspace");
  const std::int64_t steps = out.sizes[0];
  if (steps < 2) throw KernelError("linspace: needs at least two points");
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    using C = std::conditional_t<std::is_same_v<T, double>, double,
                                 std::conditional_t<std::is_integral_v<T>, double, float>>;
    const C start = static_cast<C>(start_value), end = static_cast<C>(end_value);
    const C step = (end - start) / static_cast<C>(steps - 1);
    const std::int64_t halfway = steps / 2;
    for_each_run<1>({&out}, [&](std::int64_t first, auto p, auto s, std::int64_t n) {
      for (std::int64_t i = first; i < first + n; ++i) {
        const C value = i < halfway ? start + step * static_cast<C>(i)
                                    : end - step * static_cast<C>(steps - i - 1);
        *reinterpret_cast<T*>(p[0] + (i - first) * s[0]) = convert<T>(value);
      }
    });
  });
}

void logspace(const TensorDesc& out, double start, double end, double base) {
  check_vector(out, "logspace");
  const std::int64_t steps = out.sizes[0];
  if (steps < 2) throw KernelError("logspace: needs at least two points");
  const double step = (end - start) / static_cast<double>(steps - 1);
  const std::int64_t halfway = steps / 2;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    for_each_run<1>({&out}, [&](std::int64_t first, auto p, auto s, std::int64_t n) {
      for (std::int64_t i = first; i < first + n; ++i) {
        const double exponent = i < halfway ? start + step * static_cast<double>(i)
                                            : end - step * static_cast<double>(steps - i - 1);
        *reinterpret_cast<T*>(p[0] + (i - first) * s[0]) = convert<T>(std::pow(base, exponent));
      }
    });
  });
}

}  // namespace mlu::kernels
