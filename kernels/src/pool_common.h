// Shared by the pooling kernels: the input window of each output index along each spatial dim.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "grid.h"
#include "mlu_kernels/pool.h"

namespace mlu::kernels {

// The input indices first, first + step, ... (count of them) one output index pools; divisor is
// what an average divides by.
struct Window {
  std::int64_t first = 0, count = 0, step = 1, divisor = 1;
};
using Windows = std::array<std::vector<Window>, 3>;  // per spatial dim D, H, W; per output index

// Windows of a strided, padded, dilated kernel, keeping only taps inside the input.
inline Windows kernel_windows(const PoolParams& p, const std::array<std::int64_t, 5>& in,
                              const std::array<std::int64_t, 5>& out, int spatial_dims) {
  Windows windows;
  for (int d = 0; d < 3; ++d) {
    const int param = d - (3 - spatial_dims);  // PoolParams index; < 0 for padded dims
    const std::int64_t k = param < 0 ? 1 : p.kernel[param], s = param < 0 ? 1 : p.stride[param],
                       pad = param < 0 ? 0 : p.padding[param],
                       dil = param < 0 ? 1 : p.dilation[param];
    const std::int64_t size = in[d + 2];
    for (std::int64_t o = 0; o < out[d + 2]; ++o) {
      const std::int64_t start = o * s - pad;
      std::int64_t first_tap = start < 0 ? (-start + dil - 1) / dil : 0, end_tap = k;
      while (end_tap > first_tap && start + (end_tap - 1) * dil >= size) --end_tap;
      Window w{start + first_tap * dil, std::max<std::int64_t>(end_tap - first_tap, 0), dil, 1};
      // Averages count padding up to the padded end (not the kernel's end) when asked to.
      w.divisor = p.count_include_pad ? std::min(start + k, size + pad) - start : w.count;
      windows[d].push_back(w);
    }
  }
  return windows;
}

inline Windows adaptive_windows(const std::array<std::int64_t, 5>& in,
                                const std::array<std::int64_t, 5>& out) {
  Windows windows;
  for (int d = 0; d < 3; ++d) {
    const std::int64_t size = in[d + 2], cells = out[d + 2];
    for (std::int64_t o = 0; o < cells; ++o) {
      const std::int64_t first = o * size / cells, end = ((o + 1) * size + cells - 1) / cells;
      windows[d].push_back(Window{first, end - first, 1, end - first});
    }
  }
  return windows;
}

}  // namespace mlu::kernels
