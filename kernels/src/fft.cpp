// The FFT on pocketfft (BSD-3-Clause, third_party/pocketfft: the library PyTorch CPU uses),
// parallel over a batch dimension with the library's own threads rather than pocketfft's pool.
#include <algorithm>
#include <complex>
#include <string>

#include "mlu_kernels/complex.h"
#include "mlu_kernels/parallel.h"
#include "scalar_types.h"

#define POCKETFFT_NO_MULTITHREADING
#define POCKETFFT_CACHE_SIZE 16  // plans (twiddle tables) of recent lengths, shared by threads
#include "pocketfft_hdronly.h"

namespace mlu::kernels {
namespace {

// A strided array as pocketfft takes it: element shape and byte strides.
struct Layout {
  pocketfft::shape_t shape;
  pocketfft::stride_t strides;
  char* data;
};

// complex: an interleaved view, whose last dimension (real, imaginary) is dropped.
Layout layout(const TensorDesc& t, bool complex, const char* kernel) {
  const bool floating = t.dtype == DType::Float32 || t.dtype == DType::Float64;
  const int ndim = complex ? t.ndim - 1 : t.ndim;
  if (!floating || ndim < 0 || (complex && (t.sizes[ndim] != 2 || t.strides[ndim] != 1))) {
    throw KernelError(std::string(kernel) + (complex ? ": a complex operand must be an "
                                                       "interleaved float32 or float64 view"
                                                     : ": a real operand must be float32 or "
                                                       "float64"));
  }
  Layout l{{}, {}, static_cast<char*>(t.data)};
  for (int d = 0; d < ndim; ++d) {
    l.shape.push_back(static_cast<std::size_t>(t.sizes[d]));
    l.strides.push_back(static_cast<std::ptrdiff_t>(t.strides[d] * element_size(t.dtype)));
  }
  return l;
}

pocketfft::shape_t axes_of(const std::vector<int>& dims, std::size_t ndim, const char* kernel) {
  pocketfft::shape_t axes;
  for (int d : dims) {
    if (d < 0 || static_cast<std::size_t>(d) >= ndim) {
      throw KernelError(std::string(kernel) + ": dimension " + std::to_string(d) + " out of range");
    }
    axes.push_back(static_cast<std::size_t>(d));
  }
  if (axes.empty()) throw KernelError(std::string(kernel) + ": no dimension to transform");
  return axes;
}

// Runs transform(out, in) on slices of the largest dimension not transformed, in parallel; the
// whole arrays when every dimension is transformed or the work is small.
template <typename Transform>
void over_batch(Layout out, Layout in, const pocketfft::shape_t& axes, Transform&& transform) {
  int batch = -1;
  for (std::size_t d = 0; d < out.shape.size(); ++d) {
    if (std::find(axes.begin(), axes.end(), d) != axes.end()) continue;
    if (batch < 0 || out.shape[d] > out.shape[static_cast<std::size_t>(batch)]) {
      batch = static_cast<int>(d);
    }
  }
  std::int64_t total = 1;
  for (std::size_t s : out.shape) total *= static_cast<std::int64_t>(s);
  if (batch < 0 || total < kParallelGrain) {
    transform(out, in);
    return;
  }
  const auto b = static_cast<std::size_t>(batch);
  const auto count = static_cast<std::int64_t>(out.shape[b]);
  parallel_for(count, std::max<std::int64_t>(1, count * kParallelGrain / total),
               [&](std::int64_t first, std::int64_t last) {
                 Layout o = out, i = in;
                 o.data += first * out.strides[b];
                 i.data += first * in.strides[b];
                 o.shape[b] = i.shape[b] = static_cast<std::size_t>(last - first);
                 transform(o, i);
               });
}

}  // namespace

void fft_c2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             bool forward, double scale) {
  const Layout o = layout(out, true, "fft_c2c"), i = layout(in, true, "fft_c2c");
  if (o.shape != i.shape || out.dtype != in.dtype) {
    throw KernelError("fft_c2c: out and in differ in shape or dtype");
  }
  const pocketfft::shape_t axes = axes_of(dims, o.shape.size(), "fft_c2c");
  visit_component(out.dtype, [&](auto t) {
    using T = decltype(t);
    over_batch(o, i, axes, [&](const Layout& ob, const Layout& ib) {
      pocketfft::c2c<T>(ob.shape, ib.strides, ob.strides, axes, forward,
                        reinterpret_cast<const std::complex<T>*>(ib.data),
                        reinterpret_cast<std::complex<T>*>(ob.data), static_cast<T>(scale));
    });
  });
}

void fft_r2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale) {
  const Layout o = layout(out, true, "fft_r2c"), i = layout(in, false, "fft_r2c");
  const pocketfft::shape_t axes = axes_of(dims, i.shape.size(), "fft_r2c");
  pocketfft::shape_t expected = i.shape;
  expected[axes.back()] = i.shape[axes.back()] / 2 + 1;
  if (o.shape != expected || out.dtype != in.dtype) {
    throw KernelError("fft_r2c: out must be complex of in's shape with n / 2 + 1 in the last dim");
  }
  visit_component(out.dtype, [&](auto t) {
    using T = decltype(t);
    over_batch(o, i, axes, [&](const Layout& ob, const Layout& ib) {
      pocketfft::r2c<T>(ib.shape, ib.strides, ob.strides, axes, true,
                        reinterpret_cast<const T*>(ib.data),
                        reinterpret_cast<std::complex<T>*>(ob.data), static_cast<T>(scale));
    });
  });
}

void fft_c2r(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale) {
  const Layout o = layout(out, false, "fft_c2r"), i = layout(in, true, "fft_c2r");
  const pocketfft::shape_t axes = axes_of(dims, o.shape.size(), "fft_c2r");
  pocketfft::shape_t expected = o.shape;
  expected[axes.back()] = o.shape[axes.back()] / 2 + 1;
  if (i.shape != expected || out.dtype != in.dtype) {
    throw KernelError("fft_c2r: in must be complex of out's shape with n / 2 + 1 in the last dim");
  }
  visit_component(out.dtype, [&](auto t) {
    using T = decltype(t);
    over_batch(o, i, axes, [&](const Layout& ob, const Layout& ib) {
      pocketfft::c2r<T>(ob.shape, ib.strides, ob.strides, axes, false,
                        reinterpret_cast<const std::complex<T>*>(ib.data),
                        reinterpret_cast<T*>(ob.data), static_cast<T>(scale));
    });
  });
}

}  // namespace mlu::kernels
