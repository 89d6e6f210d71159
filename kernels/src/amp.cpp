#include "mlu_kernels/amp.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {

namespace {

// Whether v is an infinity or a NaN, as integer operations that vectorise.
inline std::uint32_t non_finite_bit(float v) {
  return static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(v) & 0x7f800000u) == 0x7f800000u);
}

// The product in float is PyTorch's (its CPU kernel computes in the type's opmath, float for
// float32 and the 16-bit types); double stays double.
template <typename T>
std::uint32_t unscale_run(T* v, std::int64_t stride, std::int64_t n, ComputeType<T> factor) {
  std::uint32_t bad = 0;
  if constexpr (std::is_same_v<ComputeType<T>, float>) {
    if (stride == 1) {  // the common case, vectorised
      for (std::int64_t i = 0; i < n; ++i) {
        const float x = convert<float>(v[i]);
        bad |= non_finite_bit(x);
        v[i] = convert<T>(x * factor);
      }
      return bad;
    }
  }
  for (std::int64_t i = 0; i < n; ++i) {
    T& e = v[i * stride];
    const auto x = convert<ComputeType<T>>(e);
    bad |= !std::isfinite(x);
    e = convert<T>(x * factor);
  }
  return bad;
}

}  // namespace

void unscale_and_check(const std::vector<TensorDesc>& grads, float* found_inf,
                       const float* inv_scale) {
  const float factor = *inv_scale;
  std::uint32_t non_finite = 0;
  for (const TensorDesc& g : grads) {
    visit_dtype(g.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kFloatingStorage<T>) {
        for_each_row_in_order<1>({&g}, [&](auto p, auto s, std::int64_t n) {
          non_finite |=
              unscale_run(reinterpret_cast<T*>(p[0]), s[0] / static_cast<std::int64_t>(sizeof(T)),
                          n, static_cast<ComputeType<T>>(factor));
        });
      } else {
        throw KernelError("unscale: gradients must be floating point");
      }
    });
  }
  if (non_finite != 0) *found_inf = 1.f;
}

void update_scale(float* scale, std::int32_t* growth_tracker, const float* found_inf,
                  float growth_factor, float backoff_factor, std::int32_t growth_interval) {
  if (*found_inf != 0.f) {
    *scale *= backoff_factor;
    *growth_tracker = 0;
    return;
  }
  const std::int32_t streak = *growth_tracker + 1;
  if (streak == growth_interval) {
    const float grown = *scale * growth_factor;
    if (std::isfinite(grown)) *scale = grown;  // an infinite scale would only overflow everything
    *growth_tracker = 0;
  } else {
    *growth_tracker = streak;
  }
}

}  // namespace mlu::kernels
