// Padding as an index map per spatial dim: reflection reads input index |o - before| reflected at
// the far end, replication o - before clamped to the input, as PyTorch's CPU kernels map them.
#include "mlu_kernels/pad.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "grid.h"

namespace mlu::kernels {
namespace {

// Per grid spatial dim, the input index each output index reads.
SourceMap sources_of(PadMode mode, const TensorDesc& in, const TensorDesc& out,
                     const std::array<std::int64_t, 3>& pad_before) {
  const Grid<char> gi = grid<char>(in), go = grid<char>(out);
  const int spatial_dims = in.ndim - 2;
  SourceMap sources;
  for (int d = 0; d < 3; ++d) {
    const int param = d - (3 - spatial_dims);
    const std::int64_t before = param < 0 ? 0 : pad_before[param], size = gi.sizes[d + 2];
    for (std::int64_t o = 0; o < go.sizes[d + 2]; ++o) {
      std::int64_t source = std::clamp<std::int64_t>(o - before, 0, size - 1);
      if (mode == PadMode::Reflect) {
        const std::int64_t i = std::abs(o - before);
        source = i < size ? i : 2 * (size - 1) - i;
        if (source < 0 || source >= size)
          throw KernelError("reflection_pad: padding must be smaller than the input");
      }
      sources[d].push_back(source);
    }
  }
  return sources;
}

void check(const TensorDesc& out, const TensorDesc& in, const char* kernel) {
  check_grid_operand(in, kernel);
  if (out.ndim != in.ndim || out.dtype != in.dtype || out.sizes[0] != in.sizes[0] ||
      out.sizes[1] != in.sizes[1]) {
    throw KernelError(std::string(kernel) + ": operand shapes or dtypes do not match");
  }
}

}  // namespace

void pad(PadMode mode, const TensorDesc& out_desc, const TensorDesc& in_desc,
         const std::array<std::int64_t, 3>& pad_before) {
  check(out_desc, in_desc, "pad");
  if (out_desc.numel() == 0) return;
  const SourceMap s = sources_of(mode, in_desc, out_desc, pad_before);
  visit_dtype(in_desc.dtype, [&](auto tag) {
    using T = decltype(tag);
    gather_through(grid<T>(out_desc), grid<T>(in_desc), s);
  });
}

void pad_backward(PadMode mode, const TensorDesc& grad_in_desc, const TensorDesc& grad_out_desc,
                  const std::array<std::int64_t, 3>& pad_before) {
  check(grad_out_desc, grad_in_desc, "pad_backward");
  if (grad_in_desc.numel() == 0) return;
  const SourceMap s = sources_of(mode, grad_in_desc, grad_out_desc, pad_before);
  visit_dtype(grad_in_desc.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw KernelError("pad_backward: unsupported dtype bool");
    } else {
      scatter_add_through(grid<T>(grad_in_desc), grid<T>(grad_out_desc), s);
    }
  });
}

}  // namespace mlu::kernels
