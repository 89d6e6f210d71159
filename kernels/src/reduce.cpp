// Reductions: one traversal (reduce_plan.h) driven by small reducer policies. A reducer has an
// accumulator type Acc, identity(), step(acc, x) for one element, merge(earlier, later) for two
// partial results and store(acc, pointers) writing the outputs (pointers[0] is the input).
#include "mlu_kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "convert_block.h"
#include "reduce_plan.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace reduce_detail {

std::uint32_t reduced_dims_of(const TensorDesc& out, const TensorDesc& in, const char* kernel) {
  if (out.ndim != in.ndim)
    throw KernelError(std::string(kernel) + ": out must keep the input's dims");
  std::uint32_t mask = 0;
  for (int d = 0; d < in.ndim; ++d) {
    if (out.sizes[d] == in.sizes[d]) continue;
    if (out.sizes[d] != 1) {
      throw KernelError(std::string(kernel) + ": out has size " + std::to_string(out.sizes[d]) +
                        " in dim " + std::to_string(d) + " where the input has " +
                        std::to_string(in.sizes[d]));
    }
    mask |= 1u << d;
  }
  return mask;
}

}  // namespace reduce_detail

namespace {

using namespace reduce_detail;

// Runs longer than this are split in halves (pairwise summation); shorter ones use kPartials
// partial accumulators, which the compiler keeps in vector registers: 16 floats fill one AVX-512
// register (with 8, the x86-64-v4 variant summed 1M floats 2x slower than with 256-bit vectors).
constexpr std::int64_t kPairwiseBlock = 512;
constexpr int kPartials = 16;
// Partial results are merged in a cascade: each level takes kFanIn results of the level below.
constexpr int kFanIn = 16;
constexpr int kLevels = 6;
constexpr std::int64_t kLaneChunk = 256;
// Contiguous float16 is widened this many elements at a time by convert_block's F16C
// instructions before it is reduced, not one element at a time by to_float(Half) (with its former
// integer code a float16 sum took 4.5x float32's time on AVX2).
constexpr std::int64_t kFloat16Block = 256;

template <typename T, typename R>
typename R::Acc reduce_run(const R& r, const char* p, std::int64_t stride, std::int64_t n) {
  using Acc = typename R::Acc;
  if (n > kPairwiseBlock) {
    const std::int64_t half = (n / 2 + kPartials - 1) / kPartials * kPartials;
    return r.merge(reduce_run<T>(r, p, stride, half),
                   reduce_run<T>(r, p + half * stride, stride, n - half));
  }
  Acc a[kPartials];
  for (Acc& acc : a) acc = r.identity();
  auto body = [&](auto s) {
    std::int64_t i = 0;
    for (; i + kPartials <= n; i += kPartials) {
#pragma omp simd
      for (int k = 0; k < kPartials; ++k) a[k] = r.step(a[k], read<T>(p + (i + k) * s));
    }
    for (; i < n; ++i) a[0] = r.step(a[0], read<T>(p + i * s));
  };
  if constexpr (std::is_same_v<T, Half>) {
    if (stride == sizeof(T)) {  // float16 converted by convert_block (see kFloat16Block)
      float x[kFloat16Block];
      for (std::int64_t i = 0; i < n; i += kFloat16Block) {
        const std::int64_t m = std::min(kFloat16Block, n - i);
        convert_block(x, reinterpret_cast<const Half*>(p) + i, m);
        std::int64_t j = 0;
        for (; j + kPartials <= m; j += kPartials) {
#pragma omp simd
          for (int k = 0; k < kPartials; ++k) a[k] = r.step(a[k], x[j + k]);
        }
        for (; j < m; ++j) a[0] = r.step(a[0], x[j]);
      }
    } else {
      body(stride);
    }
  } else if (stride == sizeof(T)) {
    body(std::integral_constant<std::int64_t, sizeof(T)>{});
  } else {
    body(stride);
  }
  for (int width = kPartials / 2; width > 0; width /= 2) {  // pairwise, in order
    for (int k = 0; k < width; ++k) a[k] = r.merge(a[2 * k], a[2 * k + 1]);
  }
  return a[0];
}

template <typename R>
class Cascade {
 public:
  using Acc = typename R::Acc;
  explicit Cascade(const R& r) : r_(r) {
    for (Acc& level : levels_) level = r.identity();
  }
  void add(const Acc& partial) {
    levels_[0] = r_.merge(levels_[0], partial);
    for (int l = 0; l + 1 < kLevels && ++counts_[l] == kFanIn; ++l) {
      levels_[l + 1] = r_.merge(levels_[l + 1], levels_[l]);
      levels_[l] = r_.identity();
      counts_[l] = 0;
    }
  }
  Acc total() const {  // higher levels hold earlier elements
    Acc t = levels_[kLevels - 1];
    for (int l = kLevels - 2; l >= 0; --l) t = r_.merge(t, levels_[l]);
    return t;
  }

 private:
  const R& r_;
  std::array<Acc, kLevels> levels_;
  std::array<int, kLevels> counts_{};
};

template <typename T, typename R>
typename R::Acc reduce_region(const R& r, const DimSet<1>& reduced, const char* p) {
  if (reduced.ndim == 0) return r.step(r.identity(), read<T>(p));
  const int last = reduced.ndim - 1;
  const std::int64_t n = reduced.sizes[last], stride = reduced.strides[0][last];
  if (last == 0) return reduce_run<T>(r, p, stride, n);
  Cascade<R> cascade(r);
  for_each_index<1>(reduced, last, {const_cast<char*>(p)},
                    [&](auto q) { cascade.add(reduce_run<T>(r, q[0], stride, n)); });
  return cascade.total();
}

// Reduction over outer dims: a chunk of lanes accumulates row after row, with per-lane cascades.
template <typename T, int N, typename R>
void reduce_lanes(const R& r, const ReducePlan<N>& plan, const std::array<char*, N>& p) {
  using Acc = typename R::Acc;
  const DimSet<1> rows = operand_dims(plan.reduced, 0);
  const std::int64_t lane_stride = plan.lane_strides[0];
  const auto levels =
      std::make_unique<Acc[]>(kLevels * kLaneChunk);  // not a vector: Acc may be bool
  for (std::int64_t first = 0; first < plan.lanes; first += kLaneChunk) {
    const std::int64_t m = std::min(kLaneChunk, plan.lanes - first);
    std::fill(levels.get(), levels.get() + kLevels * kLaneChunk, r.identity());
    std::array<int, kLevels> counts{};
    auto accumulate = [&](const char* row, auto s) {
      Acc* a = levels.get();
      for (std::int64_t j = 0; j < m; ++j) a[j] = r.step(a[j], read<T>(row + j * s));
    };
    for_each_index<1>(rows, rows.ndim, {p[0] + first * lane_stride}, [&](auto q) {
      if constexpr (std::is_same_v<T, Half>) {
        static_assert(kFloat16Block >= kLaneChunk);
        if (lane_stride == sizeof(T)) {
          float x[kFloat16Block];
          convert_block(x, reinterpret_cast<const Half*>(q[0]), m);
          Acc* a = levels.get();
          for (std::int64_t j = 0; j < m; ++j) a[j] = r.step(a[j], x[j]);
        } else {
          accumulate(q[0], lane_stride);
        }
      } else if (lane_stride == sizeof(T)) {
        accumulate(q[0], std::integral_constant<std::int64_t, sizeof(T)>{});
      } else {
        accumulate(q[0], lane_stride);
      }
      for (int l = 0; l + 1 < kLevels && ++counts[l] == kFanIn; ++l) {
        Acc* lower = levels.get() + l * kLaneChunk;
        Acc* upper = lower + kLaneChunk;
        for (std::int64_t j = 0; j < m; ++j) {
          upper[j] = r.merge(upper[j], lower[j]);
          lower[j] = r.identity();
        }
        counts[l] = 0;
      }
    });
    for (std::int64_t j = 0; j < m; ++j) {
      Acc t = levels[(kLevels - 1) * kLaneChunk + j];
      for (int l = kLevels - 2; l >= 0; --l) t = r.merge(t, levels[l * kLaneChunk + j]);
      r.store(t, at_lane<N>(p, plan.lane_strides, first + j));
    }
  }
}

template <typename T, int N, typename R>
void run(const R& r, const std::array<const TensorDesc*, N>& operands, std::uint32_t mask) {
  const ReducePlan<N> plan = plan_reduction<N>(operands, mask, /*allow_lanes=*/true);
  const auto base = data_pointers<N>(operands);
  const DimSet<1> reduced = operand_dims(plan.reduced, 0);
  for_each_index_parallel<N>(plan.outer, base, plan.reduced_numel() * plan.lanes, [&](auto each) {
    each([&](auto p) {
      if (plan.empty_reduction) {
        for (std::int64_t j = 0; j < plan.lanes; ++j)
          r.store(r.identity(), at_lane<N>(p, plan.lane_strides, j));
      } else if (plan.lanes > 1) {
        reduce_lanes<T, N>(r, plan, p);
      } else {
        r.store(reduce_region<T>(r, reduced, p[0]), p);
      }
    });
  });
}

template <typename C>
constexpr bool kFloating = std::is_floating_point_v<C>;

template <typename T, bool ignore_nan = false>
struct SumReducer {
  using C = ComputeType<T>;
  using Acc = std::conditional_t<kFloating<C>, C, std::int64_t>;
  double scale = 1;
  Acc identity() const { return Acc(0); }
  Acc step(Acc a, C x) const {
    if constexpr (ignore_nan && kFloating<C>)
      return a + (x != x ? Acc(0) : Acc(x));
    else
      return a + Acc(x);
  }
  Acc merge(Acc a, Acc b) const { return a + b; }
  void store(Acc a, const std::array<char*, 2>& p) const {
    if constexpr (kFloating<C>)
      write<T>(p[1], scale == 1 ? a : Acc(a * scale));
    else
      write<T>(p[1], a);
  }
};

template <typename T>
struct ProdReducer {
  using C = ComputeType<T>;
  using Acc = std::conditional_t<kFloating<C>, C, std::int64_t>;
  Acc identity() const { return Acc(1); }
  Acc step(Acc a, C x) const { return a * Acc(x); }
  Acc merge(Acc a, Acc b) const { return a * b; }
  void store(Acc a, const std::array<char*, 2>& p) const { write<T>(p[1], a); }
};

template <typename T, bool is_max>
struct ExtremumReducer {
  using C = ComputeType<T>;
  using Acc = C;
  Acc identity() const {
    if constexpr (kFloating<C>)
      return is_max ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
    else
      return is_max ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
  }
  // One select, so that the partials' loop vectorises. NaN wins; a NaN accumulator loses every
  // comparison.
  Acc step(Acc a, C x) const {
    bool better = is_max ? x > a : x < a;
    if constexpr (kFloating<C>) better |= x != x;
    return better ? x : a;
  }
  Acc merge(Acc a, Acc b) const { return step(a, b); }
  void store(Acc a, const std::array<char*, 2>& p) const { write<T>(p[1], a); }
};

template <typename T, typename Out, bool is_all>
struct AnyAllReducer {
  using Acc = bool;
  Acc identity() const { return is_all; }
  Acc step(Acc a, ComputeType<T> x) const { return is_all ? (a && x != 0) : (a || x != 0); }
  Acc merge(Acc a, Acc b) const { return is_all ? (a && b) : (a || b); }
  void store(Acc a, const std::array<char*, 2>& p) const { write<Out>(p[1], a); }
};

enum class NormKind { Zero, One, Two, Inf, NegInf, General };

template <typename T, NormKind kind>
struct NormReducer {
  using C = ComputeType<T>;
  using Acc = C;
  C p = 2;
  Acc identity() const {
    return kind == NormKind::NegInf ? std::numeric_limits<C>::infinity() : C(0);
  }
  Acc step(Acc a, C x) const {
    const C v = std::abs(x);
    switch (kind) {
      case NormKind::Zero: return a + C(x != 0);
      case NormKind::One: return a + v;
      case NormKind::Two: return a + x * x;
      case NormKind::Inf: return (v > a || v != v) ? v : a;
      case NormKind::NegInf: return (v < a || v != v) ? v : a;
      case NormKind::General: return a + std::pow(v, p);
    }
    return a;
  }
  Acc merge(Acc a, Acc b) const {
    if constexpr (kind == NormKind::Inf || kind == NormKind::NegInf)
      return step(a, b);
    else
      return a + b;
  }
  void store(Acc a, const std::array<char*, 2>& ptr) const {
    if constexpr (kind == NormKind::Two)
      write<T>(ptr[1], std::sqrt(a));
    else if constexpr (kind == NormKind::General)
      write<T>(ptr[1], std::pow(a, C(1) / p));
    else
      write<T>(ptr[1], a);
  }
};

template <typename T>
struct ShiftedExpSumReducer {
  using C = ComputeType<T>;
  using Acc = C;
  C shift;
  Acc identity() const { return C(0); }
  Acc step(Acc a, C x) const { return a + exp_shifted(x - shift); }
  Acc merge(Acc a, Acc b) const { return a + b; }
};

// log(sum(exp(x - max))) + max per output, in two passes over each region. Outer reductions
// walk their regions with strides: logsumexp over outer dims is rare.
template <typename T>
void run_logsumexp(const TensorDesc& out, const TensorDesc& in, std::uint32_t mask) {
  using C = ComputeType<T>;
  const std::array<const TensorDesc*, 2> operands{&in, &out};
  const ReducePlan<2> plan = plan_reduction<2>(operands, mask, /*allow_lanes=*/false);
  const DimSet<1> reduced = operand_dims(plan.reduced, 0);
  for_each_index_parallel<2>(
      plan.outer, data_pointers<2>(operands), 2 * plan.reduced_numel(), [&](auto each) {
        each([&](auto p) {
          if (plan.empty_reduction) return write<T>(p[1], -std::numeric_limits<C>::infinity());
          const C max = reduce_region<T>(ExtremumReducer<T, true>{}, reduced, p[0]);
          if (std::isinf(max) || max != max)
            return write<T>(p[1], max);  // what x - max would turn into NaN
          write<T>(p[1],
                   std::log(reduce_region<T>(ShiftedExpSumReducer<T>{max}, reduced, p[0])) + max);
        });
      });
}

template <typename T>
struct VarReducer {
  struct Acc {
    double count, mean, m2;
  };
  double correction;
  bool take_sqrt, with_mean;
  Acc identity() const { return {0, 0, 0}; }
  Acc step(Acc a, ComputeType<T> value) const {
    const double x = value;
    a.count += 1;
    const double delta = x - a.mean;
    a.mean += delta / a.count;
    a.m2 += delta * (x - a.mean);
    return a;
  }
  Acc merge(Acc a, Acc b) const {  // Chan et al.'s parallel update
    if (a.count == 0) return b;
    if (b.count == 0) return a;
    const double count = a.count + b.count, delta = b.mean - a.mean;
    return {count, a.mean + delta * b.count / count,
            a.m2 + b.m2 + delta * delta * a.count * b.count / count};
  }
  void store(const Acc& a, const std::array<char*, 3>& p) const {
    const double var = a.m2 / std::max(0.0, a.count - correction);
    write<T>(p[1], take_sqrt ? std::sqrt(var) : var);
    if (with_mean) write<T>(p[2], a.count == 0 ? std::numeric_limits<double>::quiet_NaN() : a.mean);
  }
};

template <typename T>
void run_norm(const TensorDesc& out, const TensorDesc& in, std::uint32_t mask, double p) {
  using C = ComputeType<T>;
  const std::array<const TensorDesc*, 2> operands{&in, &out};
  if (p == 0) return run<T, 2>(NormReducer<T, NormKind::Zero>{}, operands, mask);
  if (p == 1) return run<T, 2>(NormReducer<T, NormKind::One>{}, operands, mask);
  if (p == 2) return run<T, 2>(NormReducer<T, NormKind::Two>{}, operands, mask);
  if (std::isinf(p)) {
    if (p > 0) return run<T, 2>(NormReducer<T, NormKind::Inf>{}, operands, mask);
    return run<T, 2>(NormReducer<T, NormKind::NegInf>{}, operands, mask);
  }
  run<T, 2>(NormReducer<T, NormKind::General>{static_cast<C>(p)}, operands, mask);
}

}  // namespace

void reduce(ReduceOp op, const TensorDesc& out, const TensorDesc& in, double param) {
  const std::uint32_t mask = reduced_dims_of(out, in, "reduce");
  if (out.numel() == 0) return;
  const std::array<const TensorDesc*, 2> operands{&in, &out};
  if (op == ReduceOp::Any || op == ReduceOp::All) {
    if (out.dtype != DType::Bool && out.dtype != DType::UInt8)
      throw KernelError("reduce: any and all write bool or uint8");
    visit_dtype(in.dtype, [&](auto t) {
      using T = decltype(t);
      auto with_out = [&](auto o) {
        using O = decltype(o);
        if (op == ReduceOp::All)
          run<T, 2>(AnyAllReducer<T, O, true>{}, operands, mask);
        else
          run<T, 2>(AnyAllReducer<T, O, false>{}, operands, mask);
      };
      if (out.dtype == DType::Bool)
        with_out(bool{});
      else
        with_out(std::uint8_t{});
    });
    return;
  }
  if (out.dtype != in.dtype) throw KernelError("reduce: out and input dtypes differ");
  visit_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    switch (op) {
      case ReduceOp::Sum: return run<T, 2>(SumReducer<T>{param}, operands, mask);
      case ReduceOp::NanSum: return run<T, 2>(SumReducer<T, true>{param}, operands, mask);
      case ReduceOp::Prod: return run<T, 2>(ProdReducer<T>{}, operands, mask);
      case ReduceOp::Max: return run<T, 2>(ExtremumReducer<T, true>{}, operands, mask);
      case ReduceOp::Min: return run<T, 2>(ExtremumReducer<T, false>{}, operands, mask);
      case ReduceOp::Norm:
      case ReduceOp::LogSumExp:
        if constexpr (kFloating<ComputeType<T>>) {
          if (op == ReduceOp::Norm) return run_norm<T>(out, in, mask, param);
          return run_logsumexp<T>(out, in, mask);
        } else {
          throw KernelError(
              std::string("reduce: norm and logsumexp need a floating-point tensor, got ") +
              dtype_name(in.dtype));
        }
      case ReduceOp::Any:
      case ReduceOp::All: break;
    }
  });
}

void var_mean(const TensorDesc& var, const TensorDesc* mean, const TensorDesc& in,
              double correction, bool take_sqrt) {
  const std::uint32_t mask = reduced_dims_of(var, in, "var_mean");
  if (var.dtype != in.dtype ||
      (mean && (mean->dtype != in.dtype || reduced_dims_of(*mean, in, "var_mean") != mask))) {
    throw KernelError("var_mean: var, mean and input must share a dtype and a shape");
  }
  if (var.numel() == 0) return;
  visit_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (kFloating<ComputeType<T>>) {
      // Without a mean output, var stands in for it in the plan and nothing is written there.
      run<T, 3>(VarReducer<T>{correction, take_sqrt, mean != nullptr},
                {&in, &var, mean ? mean : &var}, mask);
    } else {
      throw KernelError(std::string("var_mean: needs a floating-point tensor, got ") +
                        dtype_name(in.dtype));
    }
  });
}

}  // namespace mlu::kernels
