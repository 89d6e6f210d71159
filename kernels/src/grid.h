// Operands of the spatial kernels (pooling, upsampling, padding) as [N, C, D, H, W] grids, plane
// by plane.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "mlu_kernels/parallel.h"
#include "mlu_kernels/tensor_desc.h"
#include "scalar_types.h"

namespace mlu::kernels {

// An operand as [N, C, D, H, W]: missing leading spatial dims have size 1.
template <typename T>
struct Grid {
  std::array<std::int64_t, 5> sizes{1, 1, 1, 1, 1};
  std::array<std::int64_t, 5> strides{0, 0, 0, 0, 0};
  T* data = nullptr;

  std::int64_t plane_size() const { return sizes[2] * sizes[3] * sizes[4]; }
  T* plane(std::int64_t n, std::int64_t c) const { return data + n * strides[0] + c * strides[1]; }
  std::int64_t offset(std::int64_t d, std::int64_t h, std::int64_t w) const {
    return d * strides[2] + h * strides[3] + w * strides[4];
  }
};

inline void check_grid_operand(const TensorDesc& d, const char* kernel) {
  if (d.ndim < 3 || d.ndim > 5)
    throw KernelError(std::string(kernel) + ": expected [N, C, *] with 1 to 3 spatial dims");
}

template <typename T>
Grid<T> grid(const TensorDesc& d) {
  Grid<T> g;
  g.data = static_cast<T*>(d.data);
  const int skip = 5 - d.ndim;
  for (int i = 0; i < d.ndim; ++i) {
    const int to = i < 2 ? i : i + skip;
    g.sizes[to] = d.sizes[i];
    g.strides[to] = d.strides[i];
  }
  return g;
}

// Calls f(n, c, d, h, w) for every output element, planes (n, c) in parallel: f must write only
// its own element.
template <typename T, typename F>
void for_each_cell(const Grid<T>& out, F&& f) {
  const std::int64_t channels = out.sizes[1], cells = out.plane_size();
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(cells, 1));
  parallel_for(out.sizes[0] * channels, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t p = first; p < last; ++p) {
      const std::int64_t n = p / channels, c = p % channels;
      for (std::int64_t d = 0; d < out.sizes[2]; ++d)
        for (std::int64_t h = 0; h < out.sizes[3]; ++h)
          for (std::int64_t w = 0; w < out.sizes[4]; ++w) f(n, c, d, h, w);
    }
  });
}

// Stores one plane of gradients, which were accumulated in a wider type: scattered additions must
// not round to 16 bits each time.
template <typename T, typename C>
void store_plane(const Grid<T>& grad_in, std::int64_t n, std::int64_t c,
                 const std::vector<C>& plane) {
  T* dst = grad_in.plane(n, c);
  std::int64_t i = 0;
  for (std::int64_t d = 0; d < grad_in.sizes[2]; ++d)
    for (std::int64_t h = 0; h < grad_in.sizes[3]; ++h)
      for (std::int64_t w = 0; w < grad_in.sizes[4]; ++w)
        dst[grad_in.offset(d, h, w)] = convert<T>(plane[i++]);
}

// A grad_out cell: its plane (n, c) and its position (d, h, w) in it.
struct Cell {
  std::int64_t n, c, d, h, w;
};

// Gradients scattered into grad_in, one (n, c) plane at a time in C, planes in parallel: for each
// grad_out cell, add(plane, cell, value) adds value's share into the zeroed plane (row-major over
// grad_in's D, H, W), which is then stored.
template <typename C, typename T, typename Add>
void scatter_planes(const Grid<T>& grad_in, const Grid<T>& grad_out, Add&& add) {
  const std::int64_t channels = grad_in.sizes[1];
  const std::int64_t cells = grad_in.plane_size() + grad_out.plane_size();
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(cells, 1));
  parallel_for(grad_in.sizes[0] * channels, grain, [&](std::int64_t first, std::int64_t last) {
    std::vector<C> plane(grad_in.plane_size());
    for (std::int64_t p = first; p < last; ++p) {
      const std::int64_t n = p / channels, c = p % channels;
      std::fill(plane.begin(), plane.end(), C(0));
      const T* g = grad_out.plane(n, c);
      for (std::int64_t d = 0; d < grad_out.sizes[2]; ++d)
        for (std::int64_t h = 0; h < grad_out.sizes[3]; ++h)
          for (std::int64_t w = 0; w < grad_out.sizes[4]; ++w)
            add(plane, Cell{n, c, d, h, w}, convert<C>(g[grad_out.offset(d, h, w)]));
      store_plane(grad_in, n, c, plane);
    }
  });
}

// For each output position along D, H and W, the input position it reads (nearest upsampling,
// reflection padding).
using SourceMap = std::array<std::vector<std::int64_t>, 3>;

// out[n, c, d, h, w] = in[n, c, s[0][d], s[1][h], s[2][w]].
template <typename T>
void gather_through(const Grid<T>& out, const Grid<T>& in, const SourceMap& s) {
  for_each_cell(
      out, [&](std::int64_t n, std::int64_t c, std::int64_t d, std::int64_t h, std::int64_t w) {
        out.plane(n, c)[out.offset(d, h, w)] = in.plane(n, c)[in.offset(s[0][d], s[1][h], s[2][w])];
      });
}

// The gradient of gather_through: each grad_out cell adds into the grad_in cell it was read from.
template <typename T>
void scatter_add_through(const Grid<T>& grad_in, const Grid<T>& grad_out, const SourceMap& s) {
  using C = ComputeType<T>;
  const std::int64_t height = grad_in.sizes[3], width = grad_in.sizes[4];
  scatter_planes<C>(grad_in, grad_out, [&](std::vector<C>& plane, const Cell& at, C value) {
    plane[(s[0][at.d] * height + s[1][at.h]) * width + s[2][at.w]] += value;
  });
}

}  // namespace mlu::kernels
