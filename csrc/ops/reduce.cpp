// Native reductions over dim lists: sum, nansum, mean, prod, amax/amin, aminmax, max/min of
// everything, any/all, count_nonzero, var/std (and with the mean), vector norms, logsumexp. Output
// shapes and dtypes are decided here; the operations take keepdim-shaped outputs.
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/WrapDimUtilsMulti.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>

#include "common.h"
#include "real_only.h"
#include "reduction.h"

namespace torch_mlu::ops {

ReductionShape reduction_shape(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim) {
  ReductionShape result;
  const int64_t ndim = self.dim();
  if (dims && !dims->empty())
    result.reduced = at::dim_list_to_bitset(*dims, ndim);
  else
    result.reduced.set();
  for (int64_t d = 0; d < ndim; ++d) {
    if (!result.reduced[d]) {
      result.shape.push_back(self.size(d));
    } else {
      result.count *= self.size(d);
      if (keepdim) result.shape.push_back(1);
    }
  }
  return result;
}

hal::TensorDesc keepdim_desc(const at::Tensor& out, const at::Tensor& self,
                             const std::bitset<64>& reduced) {
  const hal::TensorDesc desc = describe(out);
  if (out.dim() == self.dim()) return desc;
  hal::TensorDesc kept = desc;
  kept.ndim = static_cast<int>(self.dim());
  for (int d = 0, src = 0; d < kept.ndim; ++d) {
    if (reduced[d]) {
      kept.sizes[d] = 1;
      kept.strides[d] = 0;
    } else {
      kept.sizes[d] = desc.sizes[src];
      kept.strides[d] = desc.strides[src];
      ++src;
    }
  }
  return kept;
}

void check_reducible(const char* name, const at::Tensor& self, const ReductionShape& shape,
                     bool dims_given) {
  if (self.numel() != 0) return;
  TORCH_CHECK(dims_given, name,
              "(): Expected reduction dim to be specified for input.numel() == 0. ",
              "Specify the reduction dim with the 'dim' argument.");
  for (int64_t d = 0; d < self.dim(); ++d) {
    TORCH_CHECK_INDEX(!shape.reduced[d] || self.size(d) != 0, name, "(): Expected reduction dim ",
                      d, " to have non-zero size.");
  }
}

namespace {

using hal::ReduceOp;

bool has_dims(at::OptionalIntArrayRef dims) { return dims.has_value() && !dims->empty(); }

// Reduces self, converted to in_type, into out, which is resized to the reduction's shape; the
// operation writes result_type, through a temporary when out has another dtype.
at::Tensor& reduce_into(ReduceOp op, const at::Tensor& self, at::OptionalIntArrayRef dims,
                        bool keepdim, c10::ScalarType in_type, c10::ScalarType result_type,
                        double param, at::Tensor& out,
                        const ReductionShape* known_shape = nullptr) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  const ReductionShape shape = known_shape ? *known_shape : reduction_shape(self, dims, keepdim);
  prepare_out(out, shape.shape, result_type, device);
  const at::Tensor in = self.scalar_type() == in_type ? self : self.to(in_type);
  at::Tensor result = out.scalar_type() == result_type
                          ? out
                          : at::empty(shape.shape, out.options().dtype(result_type));
  if (in.is_complex()) {
    // Sums (and means) of complex numbers are those of the interleaved views' parts: the views'
    // last dimension is never among the reduced ones.
    TORCH_CHECK_NOT_IMPLEMENTED(op == ReduceOp::Sum,
                                "complex tensors on mlu support sum and mean among the "
                                "reductions; got a ",
                                in.scalar_type(), " tensor for another one");
    const at::Tensor in_parts = at::view_as_real(in.resolve_conj());
    const at::Tensor result_parts = at::view_as_real(result);
    std::bitset<64> reduced = shape.reduced;
    reduced.reset(static_cast<std::size_t>(in.dim()));
    launch(result, hal::Reduce{op, keepdim_desc(result_parts, in_parts, reduced),
                               describe(in_parts), param});
  } else {
    launch(result, hal::Reduce{op, keepdim_desc(result, in, shape.reduced), describe(in), param});
  }
  if (!result.is_same(out)) out.copy_(result);
  return out;
}

at::Tensor new_result(const at::Tensor& self, c10::ScalarType dtype) {
  return at::empty({0}, self.options().dtype(dtype));
}

// Sums and products of integers (and bool) produce int64 unless a dtype is given.
c10::ScalarType accumulate_type(const at::Tensor& self, std::optional<c10::ScalarType> dtype) {
  if (dtype) return *dtype;
  return c10::isIntegralType(self.scalar_type(), /*includeBool=*/true) ? c10::kLong
                                                                       : self.scalar_type();
}

// ---- sum, mean, prod ---------------------------------------------------------------------------

at::Tensor& sum_out(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                    std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  const c10::ScalarType type = dtype.value_or(out.scalar_type());
  return reduce_into(ReduceOp::Sum, self, dims, keepdim, type, type, 1.0, out);
}
at::Tensor sum(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
               std::optional<c10::ScalarType> dtype) {
  at::Tensor out = new_result(self, accumulate_type(self, dtype));
  return sum_out(self, dims, keepdim, out.scalar_type(), out);
}

void check_mean_type(const at::Tensor& self, std::optional<c10::ScalarType> dtype) {
  const c10::ScalarType type = dtype.value_or(self.scalar_type());
  TORCH_CHECK(c10::isFloatingType(type) || c10::isComplexType(type),
              "mean(): could not infer output dtype. ", dtype ? "Optional" : "Input",
              " dtype must be either a floating point or complex dtype. Got: ", type);
}
at::Tensor& nansum_out(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                       std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  const c10::ScalarType type = dtype.value_or(out.scalar_type());
  return reduce_into(ReduceOp::NanSum, self, dims, keepdim, type, type, 1.0, out);
}
at::Tensor nansum(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                  std::optional<c10::ScalarType> dtype) {
  at::Tensor out = new_result(self, accumulate_type(self, dtype));
  return nansum_out(self, dims, keepdim, out.scalar_type(), out);
}

at::Tensor& mean_out(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                     std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  check_mean_type(self, dtype);
  const c10::ScalarType type = dtype.value_or(out.scalar_type());
  const ReductionShape shape = reduction_shape(self, dims, keepdim);
  return reduce_into(ReduceOp::Sum, self, dims, keepdim, type, type,
                     1.0 / static_cast<double>(shape.count), out, &shape);
}
at::Tensor mean(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                std::optional<c10::ScalarType> dtype) {
  check_mean_type(self, dtype);
  at::Tensor out = new_result(self, dtype.value_or(self.scalar_type()));
  return mean_out(self, dims, keepdim, out.scalar_type(), out);
}

at::Tensor& prod_dim_out(const at::Tensor& self, int64_t dim, bool keepdim,
                         std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  const c10::ScalarType type = dtype.value_or(out.scalar_type());
  return reduce_into(ReduceOp::Prod, self, at::IntArrayRef(dim), keepdim, type, type, 1.0, out);
}
at::Tensor prod_dim(const at::Tensor& self, int64_t dim, bool keepdim,
                    std::optional<c10::ScalarType> dtype) {
  at::Tensor out = new_result(self, accumulate_type(self, dtype));
  return prod_dim_out(self, dim, keepdim, out.scalar_type(), out);
}
at::Tensor prod(const at::Tensor& self, std::optional<c10::ScalarType> dtype) {
  at::Tensor out = new_result(self, accumulate_type(self, dtype));
  return reduce_into(ReduceOp::Prod, self, std::nullopt, false, out.scalar_type(),
                     out.scalar_type(), 1.0, out);
}

// ---- amax, amin, max and min of everything ---------------------------------------------------

at::Tensor& extremum_into(ReduceOp op, const char* name, const at::Tensor& self,
                          at::OptionalIntArrayRef dims, bool keepdim, at::Tensor& out) {
  TORCH_CHECK(out.scalar_type() == self.scalar_type(),
              "Expected the dtype for input and out to match, but got ", self.scalar_type(),
              " for input's dtype and ", out.scalar_type(), " for out's dtype.");
  const ReductionShape shape = reduction_shape(self, dims, keepdim);
  check_reducible(name, self, shape, has_dims(dims));
  return reduce_into(op, self, dims, keepdim, self.scalar_type(), self.scalar_type(), 1.0, out,
                     &shape);
}
template <ReduceOp op>
constexpr const char* extremum_name(bool all) {
  if (all) return op == ReduceOp::Max ? "max" : "min";
  return op == ReduceOp::Max ? "amax" : "amin";
}
template <ReduceOp op>
at::Tensor& amax_out(const at::Tensor& self, at::IntArrayRef dims, bool keepdim, at::Tensor& out) {
  return extremum_into(op, extremum_name<op>(false), self, dims, keepdim, out);
}
template <ReduceOp op>
at::Tensor amax(const at::Tensor& self, at::IntArrayRef dims, bool keepdim) {
  at::Tensor out = new_result(self, self.scalar_type());
  return amax_out<op>(self, dims, keepdim, out);
}
template <ReduceOp op>
at::Tensor& max_all_out(const at::Tensor& self, at::Tensor& out) {
  return extremum_into(op, extremum_name<op>(true), self, std::nullopt, false, out);
}
template <ReduceOp op>
at::Tensor max_all(const at::Tensor& self) {
  at::Tensor out = new_result(self, self.scalar_type());
  return max_all_out<op>(self, out);
}

std::tuple<at::Tensor&, at::Tensor&> aminmax_out(const at::Tensor& self, std::optional<int64_t> dim,
                                                 bool keepdim, at::Tensor& min, at::Tensor& max) {
  if (self.numel() == 0) {
    TORCH_CHECK(dim.has_value(),
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                "identity.");
    const int64_t d = at::maybe_wrap_dim(*dim, self.dim());
    TORCH_CHECK_INDEX(self.dim() == 0 || self.size(d) != 0, "aminmax: Expected reduction dim ", d,
                      " to have non-zero size.");
  }
  const at::OptionalIntArrayRef dims =
      dim ? at::OptionalIntArrayRef(at::IntArrayRef(*dim)) : std::nullopt;
  extremum_into(ReduceOp::Min, "aminmax", self, dims, keepdim, min);
  extremum_into(ReduceOp::Max, "aminmax", self, dims, keepdim, max);
  return {min, max};
}
std::tuple<at::Tensor, at::Tensor> aminmax(const at::Tensor& self, std::optional<int64_t> dim,
                                           bool keepdim) {
  at::Tensor min = new_result(self, self.scalar_type()), max = new_result(self, self.scalar_type());
  aminmax_out(self, dim, keepdim, min, max);
  return {min, max};
}

// ---- any, all, count_nonzero
// ------------------------------------------------------------------------------

template <ReduceOp op>
at::Tensor& any_dims_out(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim,
                         at::Tensor& out) {
  const c10::ScalarType type = out.scalar_type();
  TORCH_CHECK(type == c10::kBool || type == c10::kByte, op == ReduceOp::Any ? "any" : "all",
              " only supports bool tensor for result, got: ", type);
  return reduce_into(op, self, dims, keepdim, self.scalar_type(), type, 1.0, out);
}
template <ReduceOp op>
at::Tensor any_dims(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim) {
  // uint8 inputs keep giving uint8, as in ATen.
  at::Tensor out = new_result(self, self.scalar_type() == c10::kByte ? c10::kByte : c10::kBool);
  return any_dims_out<op>(self, dims, keepdim, out);
}
template <ReduceOp op>
at::Tensor any_dim(const at::Tensor& self, int64_t dim, bool keepdim) {
  return any_dims<op>(self, at::IntArrayRef(dim), keepdim);
}
template <ReduceOp op>
at::Tensor& any_dim_out(const at::Tensor& self, int64_t dim, bool keepdim, at::Tensor& out) {
  return any_dims_out<op>(self, at::IntArrayRef(dim), keepdim, out);
}
template <ReduceOp op>
at::Tensor any_all(const at::Tensor& self) {
  return any_dims<op>(self, std::nullopt, false);
}
template <ReduceOp op>
at::Tensor& any_all_out(const at::Tensor& self, at::Tensor& out) {
  return any_dims_out<op>(self, std::nullopt, false, out);
}

at::Tensor count_nonzero(const at::Tensor& self, at::IntArrayRef dims) {
  return at::sum(at::ne(self, 0), dims, /*keepdim=*/false, c10::kLong);
}

// ---- var, std ------------------------------------------------------------------------------

void var_mean_into(const char* name, bool take_sqrt, const at::Tensor& self,
                   at::OptionalIntArrayRef dims, const std::optional<at::Scalar>& correction,
                   bool keepdim, at::Tensor& var, at::Tensor* mean) {
  TORCH_CHECK(c10::isFloatingType(self.scalar_type()),
              "std and var only support floating point and complex dtypes");
  const c10::Device device = common_device({&self, &var, mean ? mean : &var});
  c10::DeviceGuard guard(device);
  const ReductionShape shape = reduction_shape(self, dims, keepdim);
  const double dof_correction = correction ? correction->toDouble() : 1.0;
  if (static_cast<double>(shape.count) - dof_correction <= 0) {
    TORCH_WARN(name,
               "(): degrees of freedom is <= 0. Correction should be strictly less than the "
               "reduction factor "
               "(input numel divided by output numel).");
  }
  prepare_out(var, shape.shape, self.scalar_type(), device);
  if (mean) prepare_out(*mean, shape.shape, self.scalar_type(), device);
  auto direct = [&](const at::Tensor& t) {
    return t.scalar_type() == self.scalar_type()
               ? t
               : at::empty(shape.shape, t.options().dtype(self.scalar_type()));
  };
  at::Tensor var_result = direct(var), mean_result = mean ? direct(*mean) : at::Tensor();
  std::optional<hal::TensorDesc> mean_desc;
  if (mean) mean_desc = keepdim_desc(mean_result, self, shape.reduced);
  launch(var_result, hal::VarMean{.var = keepdim_desc(var_result, self, shape.reduced),
                                  .mean = mean_desc,
                                  .in = describe(self),
                                  .correction = dof_correction,
                                  .take_sqrt = take_sqrt});
  if (!var_result.is_same(var)) var.copy_(var_result);
  if (mean && !mean_result.is_same(*mean)) mean->copy_(mean_result);
}

template <bool take_sqrt>
at::Tensor& var_out(const at::Tensor& self, at::OptionalIntArrayRef dims,
                    const std::optional<at::Scalar>& correction, bool keepdim, at::Tensor& out) {
  var_mean_into(take_sqrt ? "std" : "var", take_sqrt, self, dims, correction, keepdim, out,
                nullptr);
  return out;
}
template <bool take_sqrt>
at::Tensor var(const at::Tensor& self, at::OptionalIntArrayRef dims,
               const std::optional<at::Scalar>& correction, bool keepdim) {
  at::Tensor out = new_result(self, self.scalar_type());
  return var_out<take_sqrt>(self, dims, correction, keepdim, out);
}
template <bool take_sqrt>
std::tuple<at::Tensor, at::Tensor> var_mean(const at::Tensor& self, at::OptionalIntArrayRef dims,
                                            const std::optional<at::Scalar>& correction,
                                            bool keepdim) {
  at::Tensor var = new_result(self, self.scalar_type()),
             mean = new_result(self, self.scalar_type());
  var_mean_into(take_sqrt ? "std_mean" : "var_mean", take_sqrt, self, dims, correction, keepdim,
                var, &mean);
  return {var, mean};
}

// ---- norms, logsumexp ----------------------------------------------------------------------

at::Tensor& vector_norm_out(const at::Tensor& self, const at::Scalar& ord,
                            at::OptionalIntArrayRef dims, bool keepdim,
                            std::optional<c10::ScalarType> dtype, at::Tensor& out) {
  if (self.is_complex()) {
    // The norm of |z| by mlu's abs: the inf norms' backward finds the maximal elements by
    // comparing self.abs() with the norm, so both must round alike.
    TORCH_CHECK(!dtype || c10::isComplexType(*dtype),
                "linalg.vector_norm: dtype should be complex for a complex input, but got ",
                *dtype);
    const at::Tensor magnitude = at::abs(dtype ? self.to(*dtype) : self);
    return vector_norm_out(magnitude, ord, dims, keepdim, std::nullopt, out);
  }
  TORCH_CHECK(c10::isFloatingType(self.scalar_type()),
              "linalg.vector_norm: Expected a floating point or complex tensor as input. Got ",
              self.scalar_type());
  TORCH_CHECK(!dtype || c10::isFloatingType(*dtype),
              "linalg.vector_norm: dtype should be floating point or complex, but got ", *dtype);
  const double p = ord.toDouble();
  const ReductionShape shape = reduction_shape(self, dims, keepdim);
  if (self.numel() == 0 && (p < 0 || std::isinf(p))) {
    bool empty_reduced = !has_dims(dims);
    for (int64_t d = 0; d < self.dim(); ++d)
      empty_reduced = empty_reduced || (shape.reduced[d] && self.size(d) == 0);
    TORCH_CHECK(!empty_reduced, "linalg.vector_norm cannot compute the ", ord,
                " norm on an empty tensor because the operation does not have an identity");
  }
  const c10::ScalarType type = dtype.value_or(self.scalar_type());
  return reduce_into(ReduceOp::Norm, self, dims, keepdim, type, type, p, out, &shape);
}
at::Tensor vector_norm(const at::Tensor& self, const at::Scalar& ord, at::OptionalIntArrayRef dims,
                       bool keepdim, std::optional<c10::ScalarType> dtype) {
  at::Tensor out = new_result(self, c10::toRealValueType(dtype.value_or(self.scalar_type())));
  return vector_norm_out(self, ord, dims, keepdim, dtype, out);
}
at::Tensor& norm_dtype_out(const at::Tensor& self, const std::optional<at::Scalar>& p,
                           at::IntArrayRef dims, bool keepdim, c10::ScalarType dtype,
                           at::Tensor& out) {
  return vector_norm_out(self, p.value_or(2), dims, keepdim, dtype, out);
}
at::Tensor& norm_out(const at::Tensor& self, const std::optional<at::Scalar>& p,
                     at::IntArrayRef dims, bool keepdim, at::Tensor& out) {
  return vector_norm_out(self, p.value_or(2), dims, keepdim, std::nullopt, out);
}

at::Tensor& logsumexp_out(const at::Tensor& self, at::IntArrayRef dims, bool keepdim,
                          at::Tensor& out) {
  const c10::ScalarType type = floating_type(self.scalar_type());
  return reduce_into(ReduceOp::LogSumExp, self, dims, keepdim, type, type, 1.0, out);
}
at::Tensor logsumexp(const at::Tensor& self, at::IntArrayRef dims, bool keepdim) {
  at::Tensor out = new_result(self, floating_type(self.scalar_type()));
  return logsumexp_out(self, dims, keepdim, out);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("sum.dim_IntList", sum);
  m.impl("sum.IntList_out", sum_out);
  m.impl("nansum", RealOnly<ATEN_OP(nansum), nansum>::call);
  m.impl("nansum.out", RealOnly<ATEN_OP2(nansum, out), nansum_out>::call);
  m.impl("mean.dim", mean);
  m.impl("mean.out", mean_out);
  m.impl("prod", RealOnly<ATEN_OP(prod), prod>::call);
  m.impl("prod.dim_int", RealOnly<ATEN_OP2(prod, dim_int), prod_dim>::call);
  m.impl("prod.int_out", RealOnly<ATEN_OP2(prod, int_out), prod_dim_out>::call);
  m.impl("amax", RealOnly<ATEN_OP(amax), amax<ReduceOp::Max>>::call);
  m.impl("amax.out", RealOnly<ATEN_OP2(amax, out), amax_out<ReduceOp::Max>>::call);
  m.impl("amin", RealOnly<ATEN_OP(amin), amax<ReduceOp::Min>>::call);
  m.impl("amin.out", RealOnly<ATEN_OP2(amin, out), amax_out<ReduceOp::Min>>::call);
  m.impl("max", RealOnly<ATEN_OP(max), max_all<ReduceOp::Max>>::call);
  m.impl("max.unary_out", RealOnly<ATEN_OP2(max, unary_out), max_all_out<ReduceOp::Max>>::call);
  m.impl("min", RealOnly<ATEN_OP(min), max_all<ReduceOp::Min>>::call);
  m.impl("min.unary_out", RealOnly<ATEN_OP2(min, unary_out), max_all_out<ReduceOp::Min>>::call);
  m.impl("aminmax", RealOnly<ATEN_OP(aminmax), aminmax>::call);
  m.impl("aminmax.out", RealOnly<ATEN_OP2(aminmax, out), aminmax_out>::call);
  m.impl("count_nonzero.dim_IntList",
         RealOnly<ATEN_OP2(count_nonzero, dim_IntList), count_nonzero>::call);
  m.impl("any", RealOnly<ATEN_OP(any), any_all<ReduceOp::Any>>::call);
  m.impl("any.all_out", RealOnly<ATEN_OP2(any, all_out), any_all_out<ReduceOp::Any>>::call);
  m.impl("any.dim", RealOnly<ATEN_OP2(any, dim), any_dim<ReduceOp::Any>>::call);
  m.impl("any.out", RealOnly<ATEN_OP2(any, out), any_dim_out<ReduceOp::Any>>::call);
  m.impl("any.dims", RealOnly<ATEN_OP2(any, dims), any_dims<ReduceOp::Any>>::call);
  m.impl("any.dims_out", RealOnly<ATEN_OP2(any, dims_out), any_dims_out<ReduceOp::Any>>::call);
  m.impl("all", RealOnly<ATEN_OP(all), any_all<ReduceOp::All>>::call);
  m.impl("all.all_out", RealOnly<ATEN_OP2(all, all_out), any_all_out<ReduceOp::All>>::call);
  m.impl("all.dim", RealOnly<ATEN_OP2(all, dim), any_dim<ReduceOp::All>>::call);
  m.impl("all.out", RealOnly<ATEN_OP2(all, out), any_dim_out<ReduceOp::All>>::call);
  m.impl("all.dims", RealOnly<ATEN_OP2(all, dims), any_dims<ReduceOp::All>>::call);
  m.impl("all.dims_out", RealOnly<ATEN_OP2(all, dims_out), any_dims_out<ReduceOp::All>>::call);
  m.impl("var.correction", RealOnly<ATEN_OP2(var, correction), var<false>>::call);
  m.impl("var.correction_out", RealOnly<ATEN_OP2(var, correction_out), var_out<false>>::call);
  m.impl("std.correction", RealOnly<ATEN_OP2(std, correction), var<true>>::call);
  m.impl("std.correction_out", RealOnly<ATEN_OP2(std, correction_out), var_out<true>>::call);
  m.impl("var_mean.correction", RealOnly<ATEN_OP2(var_mean, correction), var_mean<false>>::call);
  m.impl("std_mean.correction", RealOnly<ATEN_OP2(std_mean, correction), var_mean<true>>::call);
  m.impl("linalg_vector_norm", vector_norm);
  m.impl("linalg_vector_norm.out", vector_norm_out);
  m.impl("norm.out", norm_out);
  m.impl("norm.dtype_out", norm_dtype_out);
  m.impl("logsumexp", RealOnly<ATEN_OP(logsumexp), logsumexp>::call);
  m.impl("logsumexp.out", RealOnly<ATEN_OP2(logsumexp, out), logsumexp_out>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
