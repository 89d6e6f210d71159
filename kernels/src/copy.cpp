#include "mlu_kernels/copy.h"

#include <cstring>

#include "convert_block.h"
#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {

void copy(const TensorDesc& dst, const TensorDesc& src) {
  check_same_shape(dst, src, "copy");
  if (dst.numel() == 0) return;
  visit_dtype(dst.dtype, [&](auto to) {
    visit_dtype(src.dtype, [&](auto from) {
      using To = decltype(to);
      using From = decltype(from);
      for_each_row<2>({&dst, &src}, [](auto p, auto s, std::int64_t n) {
        if constexpr (std::is_same_v<To, From>) {
          if (s[0] == sizeof(To) && s[1] == sizeof(To)) {
            std::memcpy(p[0], p[1], n * sizeof(To));
            return;
          }
        }
        if (s[0] == sizeof(To) && s[1] == 0) {  // a fill: one converted value, stored n times
          const To value = convert<To>(*reinterpret_cast<const From*>(p[1]));
          auto* out = reinterpret_cast<To*>(p[0]);
          for (std::int64_t i = 0; i < n; ++i) out[i] = value;
          return;
        }
        if (s[0] == sizeof(To) && s[1] == sizeof(From)) {  // unit strides: a loop that vectorises
          auto* out = reinterpret_cast<To*>(p[0]);
          const auto* in = reinterpret_cast<const From*>(p[1]);
          if constexpr ((std::is_same_v<To, float> && std::is_same_v<From, Half>) ||
                        (std::is_same_v<To, Half> && std::is_same_v<From, float>) ||
                        (std::is_same_v<To, BFloat16> && std::is_same_v<From, float>)) {
            return convert_block(out, in, n);
          }
          for (std::int64_t i = 0; i < n; ++i) out[i] = convert<To>(in[i]);
          return;
        }
        for (std::int64_t i = 0; i < n; ++i) {
          *reinterpret_cast<To*>(p[0] + i * s[0]) =
              convert<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
        }
      });
    });
  });
}

}  // namespace mlu::kernels
