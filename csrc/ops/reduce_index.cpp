// Native operators along one dim that produce positions: max/min with indices, argmax/argmin,
// cumsum, cumprod, sort, topk.
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/WrapDimUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <type_traits>

#include "common.h"
#include "real_only.h"
#include "reduction.h"

namespace torch_mlu::ops {
namespace {

// ---- max/min along a dim, argmax/argmin --------------------------------------------------------

void arg_reduce_into(bool is_max, const char* name, const at::Tensor& self,
                     std::optional<int64_t> dim, bool keepdim, at::Tensor* values,
                     at::Tensor& indices) {
  const c10::Device device = common_device({&self, &indices, values ? values : &indices});
  c10::DeviceGuard guard(device);
  // Without a dim the input is flattened; keepdim then keeps every dim with size 1.
  const at::Tensor in = dim ? self : self.reshape({-1});
  const int64_t d = dim ? at::maybe_wrap_dim(*dim, self.dim()) : 0;
  ReductionShape shape = reduction_shape(
      self, dim ? at::OptionalIntArrayRef(at::IntArrayRef(d)) : std::nullopt, keepdim);
  if (self.numel() == 0) {
    TORCH_CHECK_INDEX(dim.has_value(), name,
                      "(): Expected reduction dim to be specified for input.numel() == 0.");
    check_reducible(name, self, shape, true);
  }
  prepare_out(indices, shape.shape, c10::kLong, device);
  TORCH_CHECK(indices.scalar_type() == c10::kLong, name, "(): expected indices of dtype Long, got ",
              indices.scalar_type());
  if (values) {
    prepare_out(*values, shape.shape, self.scalar_type(), device);
    TORCH_CHECK(values->scalar_type() == self.scalar_type(), "Expected out tensor to have dtype ",
                self.scalar_type(), ", but got ", values->scalar_type(), " instead");
  }
  if (indices.numel() == 0) return;
  // The operation sees outputs with the input's ndim (1 after flattening).
  auto desc_of = [&](const at::Tensor& out) {
    if (dim) return keepdim_desc(out, self, shape.reduced);
    hal::TensorDesc one = describe(out);
    one.ndim = 1;
    one.sizes[0] = 1;
    one.strides[0] = 0;
    return one;
  };
  std::optional<hal::TensorDesc> values_desc;
  if (values) values_desc = desc_of(*values);
  launch(indices, hal::ArgReduce{.is_max = is_max,
                                 .values = values_desc,
                                 .indices = desc_of(indices),
                                 .in = describe(in),
                                 .dim = static_cast<int>(d)});
}

template <bool is_max>
std::tuple<at::Tensor&, at::Tensor&> max_dim_out(const at::Tensor& self, int64_t dim, bool keepdim,
                                                 at::Tensor& values, at::Tensor& indices) {
  arg_reduce_into(is_max, is_max ? "max" : "min", self, dim, keepdim, &values, indices);
  return {values, indices};
}
template <bool is_max>
std::tuple<at::Tensor, at::Tensor> max_dim(const at::Tensor& self, int64_t dim, bool keepdim) {
  at::Tensor values = at::empty({0}, self.options()),
             indices = at::empty({0}, self.options().dtype(c10::kLong));
  max_dim_out<is_max>(self, dim, keepdim, values, indices);
  return {values, indices};
}
template <bool is_max>
at::Tensor& argmax_out(const at::Tensor& self, std::optional<int64_t> dim, bool keepdim,
                       at::Tensor& out) {
  arg_reduce_into(is_max, is_max ? "argmax" : "argmin", self, dim, keepdim, nullptr, out);
  return out;
}
template <bool is_max>
at::Tensor argmax(const at::Tensor& self, std::optional<int64_t> dim, bool keepdim) {
  at::Tensor out = at::empty({0}, self.options().dtype(c10::kLong));
  return argmax_out<is_max>(self, dim, keepdim, out);
}

// ---- cumsum, cumprod ------------------------------------------------------------------------

template <bool product>
at::Tensor& cumulative_out(const at::Tensor& self, int64_t dim,
                           std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  const int64_t d = at::maybe_wrap_dim(dim, self.dim());
  const c10::ScalarType type = dtype.value_or(out.scalar_type());
  prepare_out(out, self.sizes(), type, device);
  const at::Tensor in = self.scalar_type() == type ? self : self.to(type);
  at::Tensor result =
      out.scalar_type() == type ? out : at::empty(self.sizes(), out.options().dtype(type));
  using Cumulative = std::conditional_t<product, hal::Cumprod, hal::Cumsum>;
  launch(result, Cumulative{describe(result), describe(in), static_cast<int>(d)});
  if (!result.is_same(out)) out.copy_(result);
  return out;
}
template <bool product>
at::Tensor cumulative(const at::Tensor& self, int64_t dim, std::optional<c10::ScalarType> dtype) {
  const bool integral = c10::isIntegralType(self.scalar_type(), /*includeBool=*/true);
  at::Tensor out = at::empty(
      {0}, self.options().dtype(dtype.value_or(integral ? c10::kLong : self.scalar_type())));
  return cumulative_out<product>(self, dim, out.scalar_type(), out);
}
template <bool product>
at::Tensor& cumulative_(at::Tensor& self, int64_t dim, std::optional<c10::ScalarType> dtype) {
  TORCH_CHECK(!dtype || *dtype == self.scalar_type(), "Bad in-place call: input tensor dtype ",
              self.scalar_type(), " and output tensor dtype ", *dtype, " should match");
  return cumulative_out<product>(self, dim, self.scalar_type(), self);
}

// ---- sort, topk --------------------------------------------------------------------------

// Resizes values and indices to shape; returns the wrapped dim.
int64_t prepare_sorted(const at::Tensor& self, int64_t dim, at::IntArrayRef shape,
                       at::Tensor& values, at::Tensor& indices) {
  const c10::Device device = common_device({&self, &values, &indices});
  const int64_t d = at::maybe_wrap_dim(dim, self.dim());
  prepare_out(values, shape, self.scalar_type(), device);
  prepare_out(indices, shape, c10::kLong, device);
  TORCH_CHECK(values.scalar_type() == self.scalar_type() && indices.scalar_type() == c10::kLong,
              "expected values of dtype ", self.scalar_type(), " and indices of dtype Long, got ",
              values.scalar_type(), " and ", indices.scalar_type());
  return d;
}

std::tuple<at::Tensor&, at::Tensor&> sort_out(const at::Tensor& self,
                                              std::optional<bool> /*stable: always*/, int64_t dim,
                                              bool descending, at::Tensor& values,
                                              at::Tensor& indices) {
  c10::DeviceGuard guard(common_device({&self, &values, &indices}));
  const int64_t d = prepare_sorted(self, dim, self.sizes(), values, indices);
  launch(values, hal::Sort{.values = describe(values),
                           .indices = describe(indices),
                           .in = describe(self),
                           .dim = static_cast<int>(d),
                           .descending = descending});
  return {values, indices};
}
std::tuple<at::Tensor, at::Tensor> sort(const at::Tensor& self, std::optional<bool> stable,
                                        int64_t dim, bool descending) {
  at::Tensor values = at::empty({0}, self.options()),
             indices = at::empty({0}, self.options().dtype(c10::kLong));
  sort_out(self, stable, dim, descending, values, indices);
  return {values, indices};
}

std::tuple<at::Tensor&, at::Tensor&> topk_out(const at::Tensor& self, int64_t k, int64_t dim,
                                              bool largest, bool /*sorted: always*/,
                                              at::Tensor& values, at::Tensor& indices) {
  c10::DeviceGuard guard(common_device({&self, &values, &indices}));
  const int64_t d = at::maybe_wrap_dim(dim, self.dim());
  TORCH_CHECK(k >= 0 && k <= (self.dim() > 0 ? self.size(d) : 1), "selected index k out of range");
  std::vector<int64_t> shape = self.sizes().vec();
  if (!shape.empty()) shape[d] = k;
  prepare_sorted(self, dim, shape, values, indices);
  launch(values, hal::Topk{.values = describe(values),
                           .indices = describe(indices),
                           .in = describe(self),
                           .dim = static_cast<int>(d),
                           .k = k,
                           .largest = largest});
  return {values, indices};
}
std::tuple<at::Tensor, at::Tensor> topk(const at::Tensor& self, int64_t k, int64_t dim,
                                        bool largest, bool sorted) {
  at::Tensor values = at::empty({0}, self.options()),
             indices = at::empty({0}, self.options().dtype(c10::kLong));
  topk_out(self, k, dim, largest, sorted, values, indices);
  return {values, indices};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("max.dim", RealOnly<ATEN_OP2(max, dim), max_dim<true>>::call);
  m.impl("max.dim_max", RealOnly<ATEN_OP2(max, dim_max), max_dim_out<true>>::call);
  m.impl("min.dim", RealOnly<ATEN_OP2(min, dim), max_dim<false>>::call);
  m.impl("min.dim_min", RealOnly<ATEN_OP2(min, dim_min), max_dim_out<false>>::call);
  m.impl("argmax", RealOnly<ATEN_OP(argmax), argmax<true>>::call);
  m.impl("argmax.out", RealOnly<ATEN_OP2(argmax, out), argmax_out<true>>::call);
  m.impl("argmin", RealOnly<ATEN_OP(argmin), argmax<false>>::call);
  m.impl("argmin.out", RealOnly<ATEN_OP2(argmin, out), argmax_out<false>>::call);
  m.impl("cumsum", RealOnly<ATEN_OP(cumsum), cumulative<false>>::call);
  m.impl("cumsum.out", RealOnly<ATEN_OP2(cumsum, out), cumulative_out<false>>::call);
  m.impl("cumsum_", RealOnly<ATEN_OP(cumsum_), cumulative_<false>>::call);
  m.impl("cumprod", RealOnly<ATEN_OP(cumprod), cumulative<true>>::call);
  m.impl("cumprod.out", RealOnly<ATEN_OP2(cumprod, out), cumulative_out<true>>::call);
  m.impl("cumprod_", RealOnly<ATEN_OP(cumprod_), cumulative_<true>>::call);
  m.impl("sort.stable", RealOnly<ATEN_OP2(sort, stable), sort>::call);
  m.impl("sort.values_stable", RealOnly<ATEN_OP2(sort, values_stable), sort_out>::call);
  m.impl("topk", RealOnly<ATEN_OP(topk), topk>::call);
  m.impl("topk.values", RealOnly<ATEN_OP2(topk, values), topk_out>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
