// Native index_select, gather, take, scatter (src, value, reduce), scatter_add, scatter_reduce,
// index_add, index_copy and index_fill_. The structured operators register their out= kernels:
// PyTorch's generated functional and in-place variants run the shape checks and call them.
#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Operators.h>
#include <ATen/WrapDimUtils.h>
#include <ATen/native/ReductionType.h>
#include <ATen/native/Resize.h>
#include <ATen/native/ScatterGatherChecks.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <limits>

#include "indexing.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

using hal::NegativeIndices;
using hal::ScatterReduce;

// 0-d operands of gather/scatter behave as one-element vectors.
at::Tensor as_vector(const at::Tensor& t) { return t.dim() == 0 ? t.view({1}) : t; }

// ---- index_select ------------------------------------------------------------------------------

at::Tensor& index_select_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                             at::Tensor& out) {
  const c10::Device device = common_device({&self, &index, &out});
  c10::DeviceGuard guard(device);
  dim = at::maybe_wrap_dim(dim, self.dim());
  if (self.is_complex()) {
    // A 0-d self's selection is 0-d.
    const std::optional<c10::IntArrayRef> shape =
        self.dim() == 0 ? std::optional(c10::IntArrayRef{}) : std::nullopt;
    return gather_complex(
        self, out,
        [&](const at::Tensor& parts) {
          at::Tensor result = at::empty({0}, parts.options());
          return index_select_out(parts, dim, index, result);
        },
        shape);
  }
  TORCH_CHECK_INDEX(index.dim() <= 1, "index_select(): Index is supposed to be a vector");
  TORCH_CHECK(index.scalar_type() == at::kLong || index.scalar_type() == at::kInt,
              "index_select(): Expected dtype int32 or int64 for index");
  TORCH_CHECK(self.scalar_type() == out.scalar_type(),
              "index_select(): self and result must have the same scalar type");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, self);
  at::assert_no_overlap(out, index);
  std::vector<int64_t> shape = self.sizes().vec();
  if (self.dim() > 0) {
    shape[dim] = index.numel();
  } else {
    TORCH_CHECK_INDEX(index.numel() == 1,
                      "index_select(): Index to scalar can have only 1 value, got ", index.numel(),
                      " value(s)");
  }
  at::native::resize_output(out, shape);
  if (out.numel() == 0) return out;
  const at::Tensor idx = long_index(index, device);
  const at::Tensor src = as_vector(self), dst = as_vector(out);
  launch(out,
         hal::IndexSelect{{.out = describe(dst),
                           .src = restrided(describe(src), dst.sizes(), strides_without(src, dim)),
                           .indices = {index_along(idx, dst.sizes(), dim, src, dim)},
                           .negative = NegativeIndices::Reject}});
  return out;
}

at::Tensor index_select(const at::Tensor& self, int64_t dim, const at::Tensor& index) {
  at::Tensor out = at::empty({0}, self.options());
  return index_select_out(self, dim, index, out);
}

// ---- gather ------------------------------------------------------------------------------------

at::Tensor& gather_out(const at::Tensor& self, int64_t dim, const at::Tensor& index, bool,
                       at::Tensor& out) {
  const c10::Device device = common_device({&self, &index, &out});
  c10::DeviceGuard guard(device);
  dim = at::maybe_wrap_dim(dim, self.dim());
  if (self.is_complex()) {
    // A 0-d self gathers as a 1-element vector, with a 1-d index; the result has index's shape.
    const at::Tensor vector_index = self.dim() == 0 ? index.reshape({-1}) : index;
    return gather_complex(
        self, out,
        [&](const at::Tensor& parts) {
          at::Tensor result = at::empty({0}, parts.options());
          std::vector<int64_t> both = vector_index.sizes().vec();
          both.push_back(2);  // the same index for both parts
          return gather_out(parts, dim, vector_index.unsqueeze(-1).expand(both), false, result);
        },
        index.sizes());
  }
  at::native::scatter_gather_dtype_check("gather", self, index);
  TORCH_CHECK(out.scalar_type() == self.scalar_type(),
              "gather(): Expected out tensor to have dtype ", self.scalar_type(), ", but got ",
              out.scalar_type(), " instead");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, self);
  at::assert_no_partial_overlap(out, index);
  if (index.numel() > 0) at::native::gather_shape_check(self, dim, index);
  at::native::resize_output(out, index.sizes());
  if (index.numel() == 0) return out;
  const at::Tensor src = as_vector(self), idx = as_vector(long_index(index, device)),
                   dst = as_vector(out);
  hal::IndexOperand op;
  op.index = describe(idx);
  op.size = src.size(dim);
  op.stride = src.stride(dim);
  op.dim = static_cast<int>(dim);
  launch(out, hal::Gather{{.out = describe(dst),
                           .src = restrided(describe(src), idx.sizes(), strides_without(src, dim)),
                           .indices = {op},
                           .negative = NegativeIndices::Reject}});
  return out;
}

// ---- take ---------------------------------------------------------------------------------------

at::Tensor& take_out(const at::Tensor& self, const at::Tensor& index, at::Tensor& out) {
  const c10::Device device = common_device({&self, &index, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(index.scalar_type() == at::kLong,
              "take(): Expected a long tensor for index, but got ", index.scalar_type());
  TORCH_CHECK(self.scalar_type() == out.scalar_type(),
              "take(): self and out expected to have the same dtype, but got self.dtype = ",
              self.scalar_type(), " and out.dtype = ", out.scalar_type());
  TORCH_CHECK_INDEX(!(self.numel() == 0 && index.numel() != 0),
                    "take(): tried to take from an empty tensor");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, index);
  at::assert_no_overlap(out, self);
  at::native::resize_output(out, index.sizes());
  if (index.numel() == 0) return out;
  // Indices address self in row-major order: a flat view (a copy when self is not contiguous).
  const at::Tensor flat = self.reshape({-1}), idx = long_index(index, device);
  hal::IndexOperand op;
  op.index = describe(idx);
  op.size = flat.numel();
  op.stride = flat.stride(0);
  const std::vector<int64_t> broadcast(idx.dim(), 0);
  launch(out, hal::Take{{.out = describe(out),
                         .src = restrided(describe(flat), idx.sizes(), broadcast),
                         .indices = {op},
                         .negative = NegativeIndices::Wrap}});
  return out;
}

at::Tensor take(const at::Tensor& self, const at::Tensor& index) {
  at::Tensor out = at::empty({0}, self.options());
  return take_out(self, index, out);
}

// ---- scatter -----------------------------------------------------------------------------------

// The value written where !include_self: the identity of the reduction in self's dtype.
at::Scalar reduction_identity(at::native::ReductionType op, c10::ScalarType dtype) {
  using at::native::ReductionType;
  at::Scalar identity;
  AT_DISPATCH_ALL_TYPES_AND3(at::kHalf, at::kBFloat16, at::kBool, dtype, "scatter_reduce", [&] {
    using limits = std::numeric_limits<scalar_t>;
    switch (op) {
      case ReductionType::SUM:
      case ReductionType::MEAN: identity = scalar_t(0); break;
      case ReductionType::PROD: identity = scalar_t(1); break;
      case ReductionType::MAX:
        identity = limits::has_infinity ? -limits::infinity() : limits::lowest();
        break;
      case ReductionType::MIN:
        identity = limits::has_infinity ? limits::infinity() : limits::max();
        break;
    }
  });
  return identity;
}

ScatterReduce scatter_reduce_of(at::native::ReductionType op) {
  using at::native::ReductionType;
  switch (op) {
    case ReductionType::SUM:
    case ReductionType::MEAN: return ScatterReduce::Add;
    case ReductionType::PROD: return ScatterReduce::Multiply;
    case ReductionType::MAX: return ScatterReduce::Maximum;
    case ReductionType::MIN: return ScatterReduce::Minimum;
  }
  TORCH_CHECK(false, "unknown scatter reduction");
}

// A scalar as a zero-stride operand of the iteration shape; its bytes travel in the operation.
hal::Operand scalar_operand(const at::Scalar& scalar, c10::ScalarType dtype, c10::IntArrayRef shape,
                            c10::Device device) {
  return kernel_operand(at::scalar_to_tensor(scalar), dtype, shape, device).captured;
}

// How a scatter's values arrive: a source tensor or a scalar.
struct ScatterValues {
  const at::Tensor* src = nullptr;
  const at::Scalar* value = nullptr;
};

// out = self, then out[index] (reduce)= values along dim, launched as Operation (hal::Scatter,
// ScatterAdd or ScatterReduction), whose name is the operator's. include_self and mean follow
// scatter_reduce: where !include_self the scattered places start at the reduction's identity.
template <typename Operation>
at::Tensor& scatter_into(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                         ScatterValues values, std::optional<at::native::ReductionType> reduction,
                         bool include_self, at::Tensor& out) {
  constexpr const char* name = Operation::name;
  const at::Tensor none;
  const c10::Device device = common_device({&self, &index, values.src ? values.src : &none, &out});
  c10::DeviceGuard guard(device);
  dim = at::maybe_wrap_dim(dim, self.dim());
  const std::optional<at::Tensor> src = values.src ? std::optional(*values.src) : std::nullopt;
  at::native::scatter_gather_dtype_check(name, self, index, src);
  at::native::scatter_shape_check(self, dim, index, src);
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), name,
              "(): Expected out tensor to have dtype ", self.scalar_type(), ", but got ",
              out.scalar_type(), " instead");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, index);
  if (src) at::assert_no_overlap(out, *src);
  at::native::resize_output(out, self.sizes());
  if (!out.is_same(self)) out.copy_(self);
  if (index.numel() == 0) return out;

  const at::Tensor dst = as_vector(out), idx = as_vector(long_index(index, device));
  hal::IndexOperand op;
  op.index = describe(idx);
  op.size = dst.size(dim);
  op.stride = dst.stride(dim);
  op.dim = static_cast<int>(dim);
  hal::Operand source;
  if (src) {
    const at::Tensor s = as_vector(*src);
    source = restrided(describe(s), idx.sizes(), s.strides());
  } else {
    source = scalar_operand(*values.value, self.scalar_type(), idx.sizes(), device);
  }
  std::optional<hal::Operand> identity;
  if (reduction && !include_self) {
    identity = scalar_operand(reduction_identity(*reduction, self.scalar_type()),
                              self.scalar_type(), idx.sizes(), device);
  }
  launch(out,
         Operation{{.dst = restrided(describe(dst), idx.sizes(), strides_without(dst, dim)),
                    .values = source,
                    .indices = {op},
                    .negative = NegativeIndices::Reject,
                    .reduce = reduction ? scatter_reduce_of(*reduction) : ScatterReduce::Assign,
                    .initial = identity}});
  if (reduction == at::native::ReductionType::MEAN) {
    // Divide by how many values each place received (plus itself with include_self).
    at::Tensor count = at::empty_like(dst).fill_(include_self ? 1 : 0);
    launch(out,
           hal::ScatterMean{.out = describe(dst),
                            .count = describe(count),
                            .count_indexed = restrided(describe(count), idx.sizes(),
                                                       strides_without(count, dim)),
                            .index = op,
                            .one = scalar_operand(1, self.scalar_type(), idx.sizes(), device)});
  }
  return out;
}

at::Tensor& scatter_src_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                            const at::Tensor& src, at::Tensor& out) {
  return scatter_into<hal::Scatter>(self, dim, index, {&src, nullptr}, std::nullopt, true, out);
}
at::Tensor& scatter_value_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                              const at::Scalar& value, at::Tensor& out) {
  return scatter_into<hal::Scatter>(self, dim, index, {nullptr, &value}, std::nullopt, true, out);
}
at::Tensor& scatter_reduce_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                               const at::Tensor& src, c10::string_view reduce, at::Tensor& out) {
  const auto op = at::native::get_operator_enum(reduce, /*use_new_options=*/false);
  return scatter_into<hal::Scatter>(self, dim, index, {&src, nullptr}, op, true, out);
}
at::Tensor& scatter_value_reduce_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                                     const at::Scalar& value, c10::string_view reduce,
                                     at::Tensor& out) {
  const auto op = at::native::get_operator_enum(reduce, /*use_new_options=*/false);
  return scatter_into<hal::Scatter>(self, dim, index, {nullptr, &value}, op, true, out);
}
at::Tensor& scatter_add_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                            const at::Tensor& src, at::Tensor& out) {
  return scatter_into<hal::ScatterAdd>(self, dim, index, {&src, nullptr},
                                       at::native::ReductionType::SUM, true, out);
}
at::Tensor& scatter_reduce_two_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                                   const at::Tensor& src, c10::string_view reduce,
                                   bool include_self, at::Tensor& out) {
  const auto op = at::native::get_operator_enum(reduce, /*use_new_options=*/true);
  return scatter_into<hal::ScatterReduction>(self, dim, index, {&src, nullptr}, op, include_self,
                                             out);
}

// ---- index_add, index_copy, index_fill -------------------------------------------------------

// out[..., index[j], ...] (reduce)= values[..., j, ...] along dim, launched as Operation (an
// IndexScatter named after the operator): values (a tensor or a broadcast scalar) has out's shape
// except index.numel() along dim.
template <typename Operation>
void launch_along_dim(const at::Tensor& out, int64_t dim, const at::Tensor& index,
                      KernelOperand values, NegativeIndices negative, ScatterReduce reduce,
                      double alpha = 1) {
  constexpr const char* name = Operation::name;
  const at::Tensor dst = as_vector(out), idx = long_index(index, out.device());
  std::vector<int64_t> shape = dst.sizes().vec();
  shape[dim] = idx.numel();
  TORCH_CHECK(values.captured.desc.ndim == static_cast<int>(shape.size()), name, "(): source (",
              values.captured.desc.ndim, "-D) and self (", out.dim(),
              "-D) must have the same number of dimensions");
  launch(out, Operation{{.dst = restrided(describe(dst), shape, strides_without(dst, dim)),
                         .values = values.captured,
                         .indices = {index_along(idx, shape, dim, dst, dim)},
                         .negative = negative,
                         .reduce = reduce,
                         .alpha = alpha}});
}

// The checks index_add and index_copy share (PyTorch's index_func_meta_impl); out = self.
void prepare_index_func(const char* name, const at::Tensor& self, int64_t dim,
                        const at::Tensor& index, const at::Tensor& source, at::Tensor& out) {
  TORCH_CHECK_INDEX(index.dim() <= 1, name, "(): Index is supposed to be a vector");
  TORCH_CHECK(index.scalar_type() == at::kLong || index.scalar_type() == at::kInt, name,
              "(): Expected dtype int32/int64 for index but got: ", index.scalar_type());
  TORCH_CHECK(self.scalar_type() == source.scalar_type(), name, "(): self (", self.scalar_type(),
              ") and source (", source.scalar_type(), ") must have the same scalar type");
  TORCH_CHECK(dim == 0 || dim < source.dim(), name, "(): Indexing dim ", dim,
              " is out of bounds of the source tensor with dim ", source.dim());
  const int64_t indexed = source.dim() == 0 ? 1 : source.size(dim);
  TORCH_CHECK(index.numel() == indexed, name, "(): Number of indices (", index.numel(),
              ") should be equal to source.size(dim) (", indexed, ")");
  if (self.dim() > 0 && source.dim() > 0) {
    bool same = self.dim() == source.dim();
    for (int64_t d = 0; same && d < self.dim(); ++d)
      same = d == dim || self.size(d) == source.size(d);
    TORCH_CHECK(same, name,
                "(): source tensor shape must match self tensor shape, excluding the specified "
                "dimension. Got self.shape = ",
                self.sizes(), " source.shape = ", source.sizes());
  }
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), name,
              "(): Expected out tensor to have dtype ", self.scalar_type(), ", but got ",
              out.scalar_type(), " instead");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, index);
  at::assert_no_overlap(out, source);
  at::native::resize_output(out, self.sizes());
  if (!out.is_same(self)) out.copy_(self);
}

at::Tensor& index_add_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                          const at::Tensor& source, const at::Scalar& alpha, at::Tensor& out) {
  const c10::Device device = common_device({&self, &index, &source, &out});
  c10::DeviceGuard guard(device);
  dim = at::maybe_wrap_dim(dim, self.dim());
  if (c10::isIntegralType(self.scalar_type(), true)) {
    TORCH_CHECK(!alpha.isFloatingPoint(),
                "For integral input tensors, argument alpha must not be a floating point number.");
  }
  prepare_index_func("index_add_", self, dim, index, source, out);
  if (index.numel() == 0 || out.numel() == 0) return out;
  launch_along_dim<hal::IndexAdd>(
      out, dim, index,
      kernel_operand(as_vector(source), source.scalar_type(), as_vector(source).sizes(), device),
      NegativeIndices::Reject, ScatterReduce::Add, alpha.toDouble());
  return out;
}

at::Tensor& index_copy_out(const at::Tensor& self, int64_t dim, const at::Tensor& index,
                           const at::Tensor& source, at::Tensor& out) {
  const c10::Device device = common_device({&self, &index, &source, &out});
  c10::DeviceGuard guard(device);
  dim = at::maybe_wrap_dim(dim, self.dim());
  prepare_index_func("index_copy_", self, dim, index, source, out);
  if (index.numel() == 0 || out.numel() == 0) return out;
  launch_along_dim<hal::IndexCopy>(
      out, dim, index,
      kernel_operand(as_vector(source), source.scalar_type(), as_vector(source).sizes(), device),
      NegativeIndices::Reject, ScatterReduce::Assign);
  return out;
}

// value: a CPU scalar or a 0-d device tensor, never read here.
at::Tensor& index_fill_with(at::Tensor& self, int64_t dim, const at::Tensor& index,
                            const at::Tensor& value) {
  const c10::Device device = common_device({&self, &index, &value});
  c10::DeviceGuard guard(device);
  TORCH_CHECK_INDEX(index.scalar_type() == at::kLong,
                    "index_fill_(): Expected dtype int64 for index.");
  TORCH_CHECK(value.dim() == 0,
              "index_fill_ only supports a 0-dimensional value tensor, but got tensor with ",
              value.dim(), " dimension(s).");
  TORCH_CHECK(index.dim() <= 1, "Index has to be a vector/scalar");
  at::assert_no_overlap(self, index);
  dim = at::maybe_wrap_dim(dim, std::max<int64_t>(self.dim(), 1));
  if (index.numel() == 0 || self.numel() == 0) return self;
  std::vector<int64_t> shape = as_vector(self).sizes().vec();
  shape[dim] = index.numel();
  launch_along_dim<hal::IndexFill>(self, dim, index,
                                   kernel_operand(value, self.scalar_type(), shape, device),
                                   NegativeIndices::Wrap, ScatterReduce::Assign);
  return self;
}

at::Tensor& index_fill_scalar(at::Tensor& self, int64_t dim, const at::Tensor& index,
                              const at::Scalar& value) {
  return index_fill_with(self, dim, index, at::scalar_to_tensor(value));
}
at::Tensor& index_fill_tensor(at::Tensor& self, int64_t dim, const at::Tensor& index,
                              const at::Tensor& value) {
  return index_fill_with(self, dim, index, value);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("index_select", index_select);
  m.impl("index_select.out", index_select_out);
  m.impl("gather.out", gather_out);
  m.impl("take", RealOnly<ATEN_OP(take), take>::call);
  m.impl("take.out", RealOnly<ATEN_OP2(take, out), take_out>::call);
  m.impl("scatter.src_out", RealOnly<ATEN_OP2(scatter, src_out), scatter_src_out>::call);
  m.impl("scatter.value_out", RealOnly<ATEN_OP2(scatter, value_out), scatter_value_out>::call);
  m.impl("scatter.reduce_out", RealOnly<ATEN_OP2(scatter, reduce_out), scatter_reduce_out>::call);
  m.impl("scatter.value_reduce_out",
         RealOnly<ATEN_OP2(scatter, value_reduce_out), scatter_value_reduce_out>::call);
  m.impl("scatter_add.out", RealOnly<ATEN_OP2(scatter_add, out), scatter_add_out>::call);
  m.impl("scatter_reduce.two_out",
         RealOnly<ATEN_OP2(scatter_reduce, two_out), scatter_reduce_two_out>::call);
  m.impl("index_add.out", RealOnly<ATEN_OP2(index_add, out), index_add_out>::call);
  m.impl("index_copy.out", RealOnly<ATEN_OP2(index_copy, out), index_copy_out>::call);
  m.impl("index_fill_.int_Scalar",
         RealOnly<ATEN_OP2(index_fill_, int_Scalar), index_fill_scalar>::call);
  m.impl("index_fill_.int_Tensor",
         RealOnly<ATEN_OP2(index_fill_, int_Tensor), index_fill_tensor>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
