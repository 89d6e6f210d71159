// Softmax over rows along one dim. A contiguous row of the compute type is read where it is;
// other rows along the innermost dim are loaded into a buffer of the compute type; rows along an
// outer dim are processed a vector of lanes at a time (reduce_plan.h). Either way the exp loops
// run over contiguous memory and vectorise.
#include "mlu_kernels/softmax.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "convert_block.h"
#include "reduce_plan.h"
#include "strided_loop.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace {

using namespace reduce_detail;

template <typename T, typename C>
void gather(C* dst, const char* src, std::int64_t stride, std::int64_t n) {
  if (stride == sizeof(T)) {
    const T* s = reinterpret_cast<const T*>(src);
    if constexpr (std::is_same_v<T, Half> && std::is_same_v<C, float>) {
      return convert_block(dst, s, n);  // F16C blocks, not one to_float(Half) each
    }
    for (std::int64_t i = 0; i < n; ++i) dst[i] = convert<C>(s[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = read<T>(src + i * stride);
  }
}

template <typename T, typename C>
void scatter(char* dst, std::int64_t stride, const C* src, std::int64_t n) {
  if (stride == sizeof(T)) {
    T* d = reinterpret_cast<T*>(dst);
    if constexpr (std::is_same_v<T, Half> && std::is_same_v<C, float>) {
      return convert_block(d, src, n);
    }
    for (std::int64_t i = 0; i < n; ++i) d[i] = convert<T>(src[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) write<T>(dst + i * stride, src[i]);
  }
}

// Blocks of 8 partial sums (vectorised), added up in float64.
template <typename C>
double sum_of(const C* x, std::int64_t n) {
  constexpr std::int64_t kBlock = 512;
  double total = 0;
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const std::int64_t m = std::min(kBlock, n - start);
    const C* block = x + start;
    C part[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
      for (int k = 0; k < 8; ++k) part[k] += block[i + k];
    }
    for (; i < m; ++i) part[0] += block[i];
    total +=
        ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  }
  return total;
}

template <typename C>
constexpr C kMinusInf = -std::numeric_limits<C>::infinity();

// A row already in the compute type into y, which may be x itself. e receives the exps; for
// softmax they go into y.
template <typename C>
void softmax_row(const C* x, C* y, C* e, std::int64_t n, bool log) {
  C max = kMinusInf<C>;
  // A NaN makes the whole row NaN through its exp whichever maximum is taken. Written as a
  // comparison: with std::max GCC 14 keeps this loop scalar (log_softmax of 512 x 512 rows,
  // one thread: 476 against 343 us).
#pragma omp simd reduction(max : max)
  for (std::int64_t i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (!log) e = y;
  for (std::int64_t i = 0; i < n; ++i) e[i] = exp_shifted(x[i] - max);
  const double sum = sum_of(e, n);
  if (log) {
    // (x - max) - log(sum) in this order keeps large inputs with small differences exact.
    const C log_sum = static_cast<C>(std::log(sum));
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - max) - log_sum;
  } else {
    const C scale = static_cast<C>(1.0 / sum);
    for (std::int64_t i = 0; i < n; ++i) y[i] *= scale;
  }
}

// Contiguous rows of the compute type are read and written in place; others (16-bit, strided)
// go through buffers of the compute type. The copies took a quarter of a float log_softmax's
// samples.
template <typename In, typename Out>
void softmax_rows(const ReducePlan<2>& plan, const Row<2>& row, std::array<char*, 2> base,
                  bool log) {
  using C = ComputeType<In>;
  const std::int64_t n = row.size;
  const bool in_place = std::is_same_v<In, C> && std::is_same_v<Out, C> &&
                        row.strides[0] == sizeof(C) && row.strides[1] == sizeof(C);
  for_each_index_parallel<2>(plan.outer, base, 3 * n, [&](auto each) {
    std::vector<C> x(in_place ? 0 : n), e(n);
    each([&](auto p) {
      if (in_place) {
        softmax_row(reinterpret_cast<const C*>(p[0]), reinterpret_cast<C*>(p[1]), e.data(), n, log);
        return;
      }
      gather<In>(x.data(), p[0], row.strides[0], n);
      softmax_row(x.data(), e.data(), e.data(), n, log);
      scatter<Out>(p[1], row.strides[1], e.data(), n);
    });
  });
}

template <typename In, typename Out>
void softmax_lanes(const ReducePlan<2>& plan, const Row<2>& row, std::array<char*, 2> base,
                   bool log) {
  using C = ComputeType<In>;
  const std::int64_t lanes = plan.lanes;
  for_each_index_parallel<2>(plan.outer, base, 3 * row.size * lanes, [&](auto each) {
    std::vector<C> x(lanes), max(lanes), factor(lanes), e(lanes);
    std::vector<double> sum(lanes);
    each([&](auto p) {
      auto load_row = [&](std::int64_t i) {
        gather<In>(x.data(), p[0] + i * row.strides[0], plan.lane_strides[0], lanes);
      };
      std::fill(max.begin(), max.end(), kMinusInf<C>);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::int64_t i = 0; i < row.size; ++i) {
        load_row(i);
        for (std::int64_t j = 0; j < lanes; ++j) max[j] = std::max(max[j], x[j]);
      }
      for (std::int64_t i = 0; i < row.size; ++i) {
        load_row(i);
        for (std::int64_t j = 0; j < lanes; ++j) e[j] = exp_shifted(x[j] - max[j]);
        for (std::int64_t j = 0; j < lanes; ++j) sum[j] += e[j];
      }
      for (std::int64_t j = 0; j < lanes; ++j)
        factor[j] = static_cast<C>(log ? std::log(sum[j]) : 1.0 / sum[j]);
      for (std::int64_t i = 0; i < row.size; ++i) {
        load_row(i);
        if (log) {
          for (std::int64_t j = 0; j < lanes; ++j) e[j] = (x[j] - max[j]) - factor[j];
        } else {
          for (std::int64_t j = 0; j < lanes; ++j) e[j] = exp_shifted(x[j] - max[j]) * factor[j];
        }
        scatter<Out>(p[1] + i * row.strides[1], plan.lane_strides[1], e.data(), lanes);
      }
    });
  });
}

template <typename In, typename Out>
void softmax_typed(const TensorDesc& out, const TensorDesc& in, int dim, bool log) {
  const std::array<const TensorDesc*, 2> operands{&in, &out};
  const ReducePlan<2> plan = plan_reduction<2>(operands, 1u << dim, /*allow_lanes=*/true);
  const Row<2> row = single_reduced_dim(plan);
  if (plan.lanes > 1)
    softmax_lanes<In, Out>(plan, row, data_pointers<2>(operands), log);
  else
    softmax_rows<In, Out>(plan, row, data_pointers<2>(operands), log);
}

// The sum of g * y in softmax_backward: sum_of's blocks over the products.
template <typename C>
double dot_of(const C* g, const C* y, std::int64_t n) {
  constexpr std::int64_t kBlock = 512;
  C term[kBlock];
  double total = 0;
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const std::int64_t m = std::min(kBlock, n - start);
    for (std::int64_t i = 0; i < m; ++i) term[i] = g[start + i] * y[start + i];
    total += sum_of(term, m);
  }
  return total;
}

// One row in the compute type: grad_in of log_softmax is g - exp(y) * sum(g), of softmax
// y * (g - sum(g * y)). gi may be g's or y's buffer.
template <typename C>
void softmax_backward_row(const C* g, const C* y, C* gi, std::int64_t n, bool log) {
  if (log) {
    const C sum = static_cast<C>(sum_of(g, n));
    for (std::int64_t i = 0; i < n; ++i) gi[i] = g[i] - exp_shifted(y[i]) * sum;
  } else {
    const C sum = static_cast<C>(dot_of(g, y, n));
    for (std::int64_t i = 0; i < n; ++i) gi[i] = y[i] * (g[i] - sum);
  }
}

// Operands {grad_out, output, grad_in}, rows along the innermost dim; contiguous rows of the
// compute type in place, as softmax_rows.
template <typename G, typename GI>
void softmax_backward_rows(const ReducePlan<3>& plan, const Row<3>& row, std::array<char*, 3> base,
                           bool log) {
  using C = ComputeType<G>;
  const std::int64_t n = row.size;
  const bool in_place = std::is_same_v<G, C> && std::is_same_v<GI, C> &&
                        row.strides[0] == sizeof(C) && row.strides[1] == sizeof(C) &&
                        row.strides[2] == sizeof(C);
  for_each_index_parallel<3>(plan.outer, base, 2 * n, [&](auto each) {
    std::vector<C> g(in_place ? 0 : n), y(in_place ? 0 : n), gi(in_place ? 0 : n);
    each([&](auto p) {
      if (in_place) {
        softmax_backward_row(reinterpret_cast<const C*>(p[0]), reinterpret_cast<const C*>(p[1]),
                             reinterpret_cast<C*>(p[2]), n, log);
        return;
      }
      gather<G>(g.data(), p[0], row.strides[0], n);
      gather<G>(y.data(), p[1], row.strides[1], n);
      softmax_backward_row(g.data(), y.data(), gi.data(), n, log);
      scatter<GI>(p[2], row.strides[2], gi.data(), n);
    });
  });
}

// Rows along an outer dim, a vector of lanes at a time.
template <typename G, typename GI>
void softmax_backward_lanes(const ReducePlan<3>& plan, const Row<3>& row, std::array<char*, 3> base,
                            bool log) {
  using C = ComputeType<G>;
  const std::int64_t lanes = plan.lanes;
  for_each_index_parallel<3>(plan.outer, base, 2 * lanes * row.size, [&](auto each) {
    std::vector<C> g(lanes), y(lanes), term(lanes);
    std::vector<double> sum(lanes);
    each([&](auto p) {
      auto load = [&](std::int64_t i) {
        gather<G>(g.data(), p[0] + i * row.strides[0], plan.lane_strides[0], lanes);
        gather<G>(y.data(), p[1] + i * row.strides[1], plan.lane_strides[1], lanes);
      };
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::int64_t i = 0; i < row.size; ++i) {
        load(i);
        for (std::int64_t j = 0; j < lanes; ++j) sum[j] += log ? g[j] : g[j] * y[j];
      }
      for (std::int64_t i = 0; i < row.size; ++i) {
        load(i);
        if (log) {
          for (std::int64_t j = 0; j < lanes; ++j)
            term[j] = g[j] - exp_shifted(y[j]) * static_cast<C>(sum[j]);
        } else {
          for (std::int64_t j = 0; j < lanes; ++j) term[j] = y[j] * (g[j] - static_cast<C>(sum[j]));
        }
        scatter<GI>(p[2] + i * row.strides[2], plan.lane_strides[2], term.data(), lanes);
      }
    });
  });
}

template <typename G, typename GI>
void softmax_backward_typed(const TensorDesc& grad_in, const TensorDesc& grad_out,
                            const TensorDesc& output, int dim, bool log) {
  const std::array<const TensorDesc*, 3> operands{&grad_out, &output, &grad_in};
  const ReducePlan<3> plan = plan_reduction<3>(operands, 1u << dim, /*allow_lanes=*/true);
  const Row<3> row = single_reduced_dim(plan);
  if (plan.lanes > 1)
    softmax_backward_lanes<G, GI>(plan, row, data_pointers<3>(operands), log);
  else
    softmax_backward_rows<G, GI>(plan, row, data_pointers<3>(operands), log);
}

bool is_half(DType dtype) { return dtype == DType::Float16 || dtype == DType::BFloat16; }

void check_dim(const TensorDesc& t, int dim, const char* kernel) {
  if (dim < 0 || dim >= std::max(t.ndim, 1))
    throw KernelError(std::string(kernel) + ": dim is out of range");
}

}  // namespace

void softmax(const TensorDesc& out, const TensorDesc& in, int dim, bool log) {
  check_same_shape(out, in, "softmax");
  check_dim(in, dim, "softmax");
  if (out.dtype != in.dtype && !(out.dtype == DType::Float32 && is_half(in.dtype))) {
    throw KernelError("softmax: out must have the input's dtype, or float32 for a 16-bit input");
  }
  if (out.numel() == 0) return;
  visit_floating(in.dtype, "softmax", [&](auto t) {
    using T = decltype(t);
    if (out.dtype == in.dtype)
      softmax_typed<T, T>(out, in, dim, log);
    else
      softmax_typed<T, float>(out, in, dim, log);
  });
}

void softmax_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                      const TensorDesc& output, int dim, bool log) {
  check_same_shape(grad_in, grad_out, "softmax_backward");
  check_same_shape(output, grad_out, "softmax_backward");
  check_dim(grad_out, dim, "softmax_backward");
  if (output.dtype != grad_out.dtype ||
      (grad_in.dtype != grad_out.dtype &&
       !(grad_out.dtype == DType::Float32 && is_half(grad_in.dtype)))) {
    throw KernelError(
        "softmax_backward: grad_out and output must share a dtype, which grad_in has or narrows to "
        "16 bits");
  }
  if (grad_in.numel() == 0) return;
  visit_floating(grad_out.dtype, "softmax_backward", [&](auto t) {
    using G = decltype(t);
    if (grad_in.dtype == grad_out.dtype)
      return softmax_backward_typed<G, G>(grad_in, grad_out, output, dim, log);
    if constexpr (std::is_same_v<G, float>) {
      if (grad_in.dtype == DType::Float16)
        return softmax_backward_typed<float, Half>(grad_in, grad_out, output, dim, log);
      return softmax_backward_typed<float, BFloat16>(grad_in, grad_out, output, dim, log);
    }
  });
}

}  // namespace mlu::kernels
