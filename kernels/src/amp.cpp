#include "mlu_kernels/amp.h"

#include <cmath>

#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {

void unscale_and_check(const std::vector<TensorDesc>& grads, float* found_inf,
                       const float* inv_scale) {
  const float factor = *inv_scale;
  bool non_finite = false;
  for (const TensorDesc& g : grads) {
    visit_dtype(g.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kFloatingStorage<T>) {
        for_each_row_in_order<1>({&g}, [&](auto p, auto s, std::int64_t n) {
          for (std::int64_t i = 0; i < n; ++i) {
            T& v = *reinterpret_cast<T*>(p[0] + i * s[0]);
            const double x = convert<double>(v);
            non_finite |= !std::isfinite(x);
            v = convert<T>(x * factor);
          }
        });
      } else {
        throw KernelError("unscale: gradients must be floating point");
      }
    });
  }
  if (non_finite) *found_inf = 1.f;
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
