#include "mlu_kernels/copy.h"

#include <cstring>

#include "scalar_types.h"

namespace mlu::kernels {
namespace {

// Shape and the two stride sets with size-1 dims dropped and mergeable neighbours merged, so
// that the innermost loop is as long as possible.
struct Layout {
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{}, dst_strides{}, src_strides{};
};

Layout coalesce(const TensorDesc& dst, const TensorDesc& src) {
  Layout l;
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.sizes[d] == 1) continue;
    if (l.ndim > 0) {
      const int last = l.ndim - 1;
      if (l.dst_strides[last] == dst.strides[d] * dst.sizes[d] &&
          l.src_strides[last] == src.strides[d] * dst.sizes[d]) {
        l.sizes[last] *= dst.sizes[d];
        l.dst_strides[last] = dst.strides[d];
        l.src_strides[last] = src.strides[d];
        continue;
      }
    }
    l.sizes[l.ndim] = dst.sizes[d];
    l.dst_strides[l.ndim] = dst.strides[d];
    l.src_strides[l.ndim] = src.strides[d];
    ++l.ndim;
  }
  return l;
}

template <typename To, typename From>
void copy_typed(const Layout& l, To* dst, const From* src) {
  if (l.ndim == 0) {
    *dst = convert<To>(*src);
    return;
  }
  const int inner = l.ndim - 1;
  const std::int64_t n = l.sizes[inner], ds = l.dst_strides[inner], ss = l.src_strides[inner];
  std::array<std::int64_t, kMaxDims> index{};
  for (;;) {
    if constexpr (std::is_same_v<To, From>) {
      if (ds == 1 && ss == 1) {
        std::memcpy(dst, src, n * sizeof(To));
      } else {
        for (std::int64_t i = 0; i < n; ++i) dst[i * ds] = src[i * ss];
      }
    } else {
      for (std::int64_t i = 0; i < n; ++i) dst[i * ds] = convert<To>(src[i * ss]);
    }
    // Advance the outer index like an odometer.
    int d = inner - 1;
    for (; d >= 0; --d) {
      dst += l.dst_strides[d];
      src += l.src_strides[d];
      if (++index[d] < l.sizes[d]) break;
      dst -= l.dst_strides[d] * l.sizes[d];
      src -= l.src_strides[d] * l.sizes[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace

void copy(const TensorDesc& dst, const TensorDesc& src) {
  if (dst.ndim != src.ndim) throw KernelError("copy: dst and src ranks differ");
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.sizes[d] != src.sizes[d]) throw KernelError("copy: dst and src shapes differ");
  }
  if (dst.numel() == 0) return;
  const Layout layout = coalesce(dst, src);
  visit_dtype(dst.dtype, [&](auto to) {
    visit_dtype(src.dtype, [&](auto from) {
      using To = decltype(to);
      using From = decltype(from);
      copy_typed(layout, static_cast<To*>(dst.data), static_cast<const From*>(src.data));
    });
  });
}

}  // namespace mlu::kernels
