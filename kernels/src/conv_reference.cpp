// Direct convolution loops for float64 and integers, which oneDNN does not compute. Correct, not
// fast: these convolutions are for checking, not for training.
#include <array>
#include <cstdint>

#include "conv_internal.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

// An operand as [N, C, D, H, W]: missing leading spatial dims have size 1.
template <typename T>
struct Volume {
  std::array<std::int64_t, 5> sizes{1, 1, 1, 1, 1};
  std::array<std::int64_t, 5> strides{0, 0, 0, 0, 0};
  T* data;
};

template <typename T>
Volume<T> volume(const TensorDesc& d, int spatial_dims) {
  Volume<T> v;
  v.data = static_cast<T*>(d.data);
  const int skip = 3 - spatial_dims;
  for (int i = 0; i < d.ndim; ++i) {
    const int to = i < 2 ? i : i + skip;
    v.sizes[to] = d.sizes[i];
    v.strides[to] = d.strides[i];
  }
  return v;
}

// Calls tap(x_offset, w_offset, y_offset) for every product term of the convolution.
template <typename T, typename Tap>
void for_each_tap(const DirectConv& c, const Volume<T>& x, const Volume<T>& w, const Volume<T>& y,
                  Tap&& tap) {
  const int skip = 3 - c.spatial_dims;
  std::array<std::int64_t, 3> stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0};
  for (int i = 0; i < c.spatial_dims; ++i) {
    stride[i + skip] = c.stride[i];
    dilation[i + skip] = c.dilation[i];
    pad[i + skip] = c.pad_before[i];
  }
  const std::int64_t in_per_group = w.sizes[1], out_per_group = y.sizes[1] / c.groups;
  for (std::int64_t n = 0; n < y.sizes[0]; ++n)
    for (std::int64_t oc = 0; oc < y.sizes[1]; ++oc) {
      const std::int64_t first_ic = oc / out_per_group * in_per_group;
      for (std::int64_t od = 0; od < y.sizes[2]; ++od)
        for (std::int64_t oh = 0; oh < y.sizes[3]; ++oh)
          for (std::int64_t ow = 0; ow < y.sizes[4]; ++ow) {
            const std::int64_t y_off = n * y.strides[0] + oc * y.strides[1] + od * y.strides[2] +
                                       oh * y.strides[3] + ow * y.strides[4];
            for (std::int64_t ic = 0; ic < in_per_group; ++ic)
              for (std::int64_t kd = 0; kd < w.sizes[2]; ++kd) {
                const std::int64_t id = od * stride[0] - pad[0] + kd * dilation[0];
                if (id < 0 || id >= x.sizes[2]) continue;
                for (std::int64_t kh = 0; kh < w.sizes[3]; ++kh) {
                  const std::int64_t ih = oh * stride[1] - pad[1] + kh * dilation[1];
                  if (ih < 0 || ih >= x.sizes[3]) continue;
                  for (std::int64_t kw = 0; kw < w.sizes[4]; ++kw) {
                    const std::int64_t iw = ow * stride[2] - pad[2] + kw * dilation[2];
                    if (iw < 0 || iw >= x.sizes[4]) continue;
                    tap(n * x.strides[0] + (first_ic + ic) * x.strides[1] + id * x.strides[2] +
                            ih * x.strides[3] + iw * x.strides[4],
                        oc * w.strides[0] + ic * w.strides[1] + kd * w.strides[2] +
                            kh * w.strides[3] + kw * w.strides[4],
                        y_off);
                  }
                }
              }
          }
    }
}

template <typename T>
void zero(const Volume<T>& v) {
  for (std::int64_t a = 0; a < v.sizes[0]; ++a)
    for (std::int64_t b = 0; b < v.sizes[1]; ++b)
      for (std::int64_t c = 0; c < v.sizes[2]; ++c)
        for (std::int64_t d = 0; d < v.sizes[3]; ++d)
          for (std::int64_t e = 0; e < v.sizes[4]; ++e) {
            v.data[a * v.strides[0] + b * v.strides[1] + c * v.strides[2] + d * v.strides[3] +
                   e * v.strides[4]] = 0;
          }
}

template <typename T>
void convolve(ConvPass pass, const DirectConv& conv, const TensorDesc& x_desc,
              const TensorDesc& w_desc, const TensorDesc& y_desc) {
  const Volume<T> x = volume<T>(x_desc, conv.spatial_dims),
                  w = volume<T>(w_desc, conv.spatial_dims),
                  y = volume<T>(y_desc, conv.spatial_dims);
  switch (pass) {
    case ConvPass::Forward:
      zero(y);
      for_each_tap(conv, x, w, y,
                   [&](auto xo, auto wo, auto yo) { y.data[yo] += x.data[xo] * w.data[wo]; });
      break;
    case ConvPass::BackwardData:
      zero(x);
      for_each_tap(conv, x, w, y,
                   [&](auto xo, auto wo, auto yo) { x.data[xo] += y.data[yo] * w.data[wo]; });
      break;
    case ConvPass::BackwardWeights:
      zero(w);
      for_each_tap(conv, x, w, y,
                   [&](auto xo, auto wo, auto yo) { w.data[wo] += x.data[xo] * y.data[yo]; });
      break;
  }
}

}  // namespace

void reference_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                           const TensorDesc& w, const TensorDesc& y) {
  visit_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, double> ||
                  (std::is_integral_v<T> && !std::is_same_v<T, bool>)) {
      convolve<T>(pass, conv, x, w, y);
    } else {
      throw KernelError(std::string("reference convolution: unsupported dtype ") +
                        dtype_name(x.dtype));
    }
  });
}

}  // namespace mlu::kernels
