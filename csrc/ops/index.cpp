// Native advanced indexing (x[idx], x[idx] = v, index_put_ with accumulate), masked_fill_,
// masked_scatter_, nonzero and masked_select.
// Boolean masks used as indices become integer indices through nonzero, which synchronises (the
// result's shape depends on the data), except in x[mask] = scalar, which is a masked_fill_.
#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Operators.h>
#include <ATen/native/Resize.h>
#include <ATen/native/TensorAdvancedIndexingUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>

#include "indexing.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

using IndexList = c10::List<std::optional<at::Tensor>>;

// What PyTorch's AdvancedIndex computes: the indexed dims made adjacent, the result's shape
// (dims before, the broadcast index shape, dims after), and each index as an operation's operand.
struct AdvancedIndex {
  at::Tensor data;  // self, transposed when the indexed dims were not adjacent
  std::vector<int64_t> shape;
  hal::TensorDesc data_desc;  // data seen with the result's shape, indexed dims of stride 0
  std::vector<hal::IndexOperand> indices;
  std::vector<at::Tensor> keep_alive;  // device copies of the indices, until launched
};

AdvancedIndex plan_index(const at::Tensor& self, const IndexList& index_list) {
  TORCH_CHECK_INDEX(index_list.size() <= static_cast<std::size_t>(self.dim()),
                    "too many indices for tensor of dimension ", self.dim(), " (got ",
                    index_list.size(), ")");
  at::native::checkIndexTensorTypes(index_list, /*allow_int=*/true);
  std::vector<at::Tensor> indices = at::native::expandTensors(self, index_list);
  try {
    indices = at::expand_outplace(indices);
  } catch (std::exception&) {
    TORCH_CHECK_INDEX(
        false, "shape mismatch: indexing tensors could not be broadcast together with shapes ",
        at::native::shapes_as_str(indices));
  }
  TORCH_CHECK_INDEX(indices.size() <= static_cast<std::size_t>(self.dim()),
                    "too many indices for tensor of dimension ", self.dim(), " (got ",
                    indices.size(), ")");
  indices.resize(self.dim());
  std::vector<int> original_dims;
  for (int d = 0; d < self.dim(); ++d) {
    if (indices[d].defined()) original_dims.push_back(d);
  }
  AdvancedIndex plan;
  plan.data = self;
  if (!at::native::hasContiguousSubspace(indices)) {
    std::tie(plan.data, indices) = at::native::transposeToFront(self, indices);
  }
  const auto first =
      std::find_if(indices.begin(), indices.end(), [](const at::Tensor& t) { return t.defined(); });
  const int64_t before = first - indices.begin();  // self.dim() when there is no index: a copy
  const auto count = static_cast<int64_t>(original_dims.size());
  const at::IntArrayRef replacement = first == indices.end() ? at::IntArrayRef() : first->sizes();
  const at::Tensor& data = plan.data;
  bool indexes_empty_dim = false;
  for (int64_t k = 0; k < count; ++k) indexes_empty_dim |= data.size(before + k) == 0;
  TORCH_CHECK_INDEX(!indexes_empty_dim || c10::multiply_integers(replacement) == 0,
                    "index is out of bounds for dimension with size 0");

  std::vector<int64_t> strides;
  for (int64_t d = 0; d < before; ++d) {
    plan.shape.push_back(data.size(d));
    strides.push_back(data.stride(d));
  }
  plan.shape.insert(plan.shape.end(), replacement.begin(), replacement.end());
  strides.insert(strides.end(), replacement.size(), 0);
  for (int64_t d = before + count; d < data.dim(); ++d) {
    plan.shape.push_back(data.size(d));
    strides.push_back(data.stride(d));
  }
  plan.data_desc = restrided(describe(data), plan.shape, strides);

  const c10::Device device = self.device();
  for (int64_t k = 0; k < count; ++k) {
    const at::Tensor index = indices[before + k].to(device, at::kLong);
    // The index varies over the replacement dims only.
    std::vector<int64_t> index_strides(plan.shape.size(), 0);
    for (std::size_t j = 0; j < replacement.size(); ++j)
      index_strides[before + j] = index.stride(j);
    hal::IndexOperand op;
    op.index = restrided(describe(index), plan.shape, index_strides);
    op.size = data.size(before + k);
    op.stride = data.stride(before + k);
    op.dim = original_dims[k];
    plan.indices.push_back(op);
    plan.keep_alive.push_back(index);
  }
  return plan;
}

at::Tensor& index_into(const at::Tensor& self, const IndexList& indices, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  if (self.is_complex()) {
    return gather_complex(self, out, [&](const at::Tensor& parts) {
      at::Tensor result = at::empty({0}, parts.options());
      return index_into(parts, indices, result);
    });
  }
  const AdvancedIndex plan = plan_index(self, indices);
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "index_out: self (", self.scalar_type(),
              ") and result (", out.scalar_type(), ") must have the same scalar type");
  at::assert_no_internal_overlap(out);
  at::assert_no_overlap(out, self);
  at::native::resize_output(out, plan.shape);
  if (out.numel() == 0) return out;
  launch(out, hal::Index{{.out = describe(out),
                          .src = plan.data_desc,
                          .indices = plan.indices,
                          .negative = hal::NegativeIndices::Wrap}});
  return out;
}

at::Tensor index(const at::Tensor& self, const IndexList& indices) {
  at::Tensor out = at::empty({0}, self.options());
  return index_into(self, indices, out);
}

at::Tensor& index_out(const at::Tensor& self, const IndexList& indices, at::Tensor& out) {
  return index_into(self, indices, out);
}

// ---- masked_fill_ ------------------------------------------------------------------------------

// self = mask ? value : self, value a CPU scalar or a 0-d device tensor.
at::Tensor& masked_fill_with(at::Tensor& self, const at::Tensor& mask, const at::Tensor& value) {
  const c10::Device device = common_device({&self, &mask, &value});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(mask.scalar_type() == at::kBool,
              "masked_fill_ only supports boolean masks, but got mask with dtype ",
              mask.scalar_type());
  TORCH_CHECK(value.dim() == 0,
              "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with ",
              value.dim(), " dimension(s).");
  if (at::has_internal_overlap(self) == at::MemOverlap::Yes) {
    TORCH_WARN(
        "Use of masked_fill_ on expanded tensors is deprecated. Please clone() the tensor before "
        "performing this operation. This also applies to advanced indexing e.g. tensor[mask] = "
        "scalar");
  }
  at::assert_no_partial_overlap(self, mask);
  TORCH_CHECK(at::is_expandable_to(mask.sizes(), self.sizes()), "The expanded size of the mask ",
              mask.sizes(), " must match the size of the tensor ", self.sizes());
  if (self.numel() == 0) return self;
  const at::Tensor m = operand(mask, at::kBool, self.sizes(), device);
  KernelOperand v = kernel_operand(value, self.scalar_type(), self.sizes(), device);
  launch(self, hal::MaskedFill{describe(self), describe(m), v.captured});
  return self;
}

at::Tensor& masked_fill_scalar(at::Tensor& self, const at::Tensor& mask, const at::Scalar& value) {
  return masked_fill_with(self, mask, at::scalar_to_tensor(value));
}

at::Tensor& masked_fill_tensor(at::Tensor& self, const at::Tensor& mask, const at::Tensor& value) {
  return masked_fill_with(self, mask, value);
}

// self's elements where mask is true, in row-major order, take source's consecutive elements.
at::Tensor& masked_scatter_(at::Tensor& self, const at::Tensor& mask, const at::Tensor& source) {
  const c10::Device device = common_device({&self, &mask, &source});
  c10::DeviceGuard guard(device);
  at::assert_no_internal_overlap(self);
  TORCH_CHECK(self.scalar_type() == source.scalar_type(),
              "masked_scatter_: expected self and source to have same dtypes but got",
              self.scalar_type(), " and ", source.scalar_type());
  TORCH_CHECK(mask.scalar_type() == at::kBool,
              "masked_scatter_ only supports boolean masks, but got mask with dtype ",
              mask.scalar_type());
  TORCH_CHECK(at::is_expandable_to(mask.sizes(), self.sizes()), "The expanded size of the mask ",
              mask.sizes(), " must match the size of the tensor ", self.sizes());
  if (self.numel() == 0) return self;
  const at::Tensor m = operand(mask, at::kBool, self.sizes(), device);
  const at::Tensor values = source.reshape({-1});
  launch(self, hal::MaskedScatter{describe(self), describe(m), describe(values)});
  return self;
}

// ---- nonzero, masked_select ---------------------------------------------------------------------

// The count decides the output's shape, so it is read back (a synchronisation, as on CUDA).
at::Tensor& nonzero_out(const at::Tensor& self, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(out.scalar_type() == at::kLong, "nonzero: expected out of dtype long, got ",
              out.scalar_type());
  const int64_t count = self.numel() == 0 ? 0 : at::count_nonzero(self).item<int64_t>();
  at::native::resize_output(out, {count, self.dim()});
  if (count == 0) return out;
  const at::Tensor result =
      out.is_contiguous() ? out : at::empty({count, self.dim()}, out.options());
  launch(result, hal::Nonzero{describe(result), describe(self)});
  if (!result.is_same(out)) out.copy_(result);
  return out;
}

at::Tensor nonzero(const at::Tensor& self) {
  at::Tensor out = at::empty({0}, self.options().dtype(at::kLong));
  return nonzero_out(self, out);
}

at::Tensor masked_select(const at::Tensor& self, const at::Tensor& mask) {
  TORCH_CHECK(mask.scalar_type() == at::kBool, "masked_select: expected BoolTensor for mask");
  // Flattened, so that 0-d operands index too; the order stays row-major.
  const auto shape = at::infer_size(self.sizes(), mask.sizes());
  return at::index(self.expand(shape).reshape(-1),
                   {std::optional<at::Tensor>(mask.expand(shape).reshape(-1))});
}

at::Tensor& masked_select_out(const at::Tensor& self, const at::Tensor& mask, at::Tensor& out) {
  const at::Tensor result = ops::masked_select(self, mask);
  at::native::resize_output(out, result.sizes());
  return out.copy_(result);
}

// ---- index_put_ --------------------------------------------------------------------------------

// x[mask] = v with a single boolean index and one value is masked_fill_: no nonzero, so no
// synchronisation. As ATen's canDispatchToMaskedFill, but the value may be on the device.
std::optional<at::Tensor> fill_mask(const at::Tensor& self, const IndexList& indices,
                                    const at::Tensor& value) {
  if (value.numel() != 1) return std::nullopt;
  int64_t dims = 0;
  at::Tensor mask;
  for (const std::optional<at::Tensor>& index : indices) {
    if (!index || !index->defined()) {
      ++dims;
      continue;
    }
    if (index->scalar_type() != at::kBool || index->device() != self.device() || mask.defined())
      return std::nullopt;
    mask = *index;
    for (int64_t j = 0; j < mask.dim(); ++j) {
      TORCH_CHECK_INDEX(dims + j < self.dim() && mask.size(j) == self.size(dims + j),
                        "The shape of the mask ", mask.sizes(), " at index ", j,
                        " does not match the shape of the indexed tensor ", self.sizes(),
                        " at index ", dims + j);
    }
    dims += mask.dim();
  }
  if (!mask.defined()) return std::nullopt;
  for (int64_t d = dims; d < self.dim(); ++d) mask = mask.unsqueeze(-1);
  return mask;
}

at::Tensor& index_put_impl_(at::Tensor& self, const IndexList& indices, const at::Tensor& values,
                            bool accumulate, bool /*unsafe*/) {
  const c10::Device device = common_device({&self, &values});
  c10::DeviceGuard guard(device);
  TORCH_CHECK_INDEX(indices.size() <= static_cast<std::size_t>(self.dim()),
                    "too many indices for tensor of dimension ", self.dim(), " (got ",
                    indices.size(), ")");
  if (at::has_internal_overlap(self) == at::MemOverlap::Yes) {
    TORCH_WARN(
        "Use of index_put_ on expanded tensors is deprecated. Please clone() the tensor before "
        "performing "
        "this operation. This also applies to advanced indexing e.g. tensor[indices] = tensor");
  }
  if (!accumulate) {
    if (const auto mask = fill_mask(self, indices, values)) {
      return masked_fill_with(self, *mask, values.reshape({}));
    }
  }
  at::assert_no_overlap(self, values);
  for (const std::optional<at::Tensor>& index : indices) {
    if (index && index->defined()) at::assert_no_overlap(self, *index);
  }
  const AdvancedIndex plan = plan_index(self, indices);
  TORCH_CHECK(at::is_expandable_to(values.sizes(), plan.shape),
              "shape mismatch: value tensor of shape ", values.sizes(),
              " cannot be broadcast to indexing result of shape ", plan.shape);
  TORCH_CHECK(values.scalar_type() == self.scalar_type(),
              "Index put requires the source and destination dtypes "
              "match, got ",
              self.scalar_type(), " for the destination and ", values.scalar_type(),
              " for the source.");
  if (c10::multiply_integers(plan.shape) == 0) return self;
  KernelOperand v = kernel_operand(values, self.scalar_type(), plan.shape, device);
  launch(self, hal::IndexPut{
                   {.dst = plan.data_desc,
                    .values = v.captured,
                    .indices = plan.indices,
                    .negative = hal::NegativeIndices::Wrap,
                    .reduce = accumulate ? hal::ScatterReduce::Add : hal::ScatterReduce::Assign}});
  return self;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("index.Tensor", index);
  m.impl("index.Tensor_out", index_out);
  m.impl("_index_put_impl_", RealOnly<ATEN_OP(_index_put_impl_), index_put_impl_>::call);
  m.impl("masked_fill_.Scalar", RealOnly<ATEN_OP2(masked_fill_, Scalar), masked_fill_scalar>::call);
  m.impl("masked_fill_.Tensor", RealOnly<ATEN_OP2(masked_fill_, Tensor), masked_fill_tensor>::call);
  m.impl("masked_scatter_", RealOnly<ATEN_OP(masked_scatter_), masked_scatter_>::call);
  m.impl("nonzero", RealOnly<ATEN_OP(nonzero), nonzero>::call);
  m.impl("nonzero.out", RealOnly<ATEN_OP2(nonzero, out), nonzero_out>::call);
  m.impl("masked_select", RealOnly<ATEN_OP(masked_select), masked_select>::call);
  m.impl("masked_select.out", RealOnly<ATEN_OP2(masked_select, out), masked_select_out>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
