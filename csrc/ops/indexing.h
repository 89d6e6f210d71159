// Descriptors for the indexing operations (mlu/ops/index.h): data tensors seen with an
// iteration shape, and int64 index tensors broadcast to it.
#pragma once

#include <ATen/ATen.h>
#include <ATen/native/Resize.h>

#include <optional>

#include "common.h"

namespace torch_mlu::ops {

// Complex tensors in the gathering operators: the operator runs on the interleaved real view
// (a trailing dim of 2 that no index touches) and its result, made complex again, is copied into
// out. gather(real view) -> its result. A 0-d self is a 1-element vector here (the only dim of
// its real view would be the parts'), and the caller gives the result's shape.
template <typename Gather>
at::Tensor& gather_complex(const at::Tensor& self, at::Tensor& out, Gather gather,
                           std::optional<c10::IntArrayRef> result_shape = std::nullopt) {
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "expected out of dtype ", self.scalar_type(),
              ", got ", out.scalar_type());
  const at::Tensor source = self.dim() == 0 ? self.view({1}) : self;
  at::Tensor result = at::view_as_complex(gather(at::view_as_real(source.resolve_conj())));
  if (result_shape) result = result.view(*result_shape);
  at::native::resize_output(out, result.sizes());
  return out.copy_(result);
}

// desc seen with other sizes and strides from the same first element: a data tensor with the
// iteration shape, its indexed dims of stride 0. Unlike as_strided this checks no storage
// bounds: the extents come from index tensors whose values the operation checks.
inline hal::TensorDesc restrided(hal::TensorDesc desc, c10::IntArrayRef sizes,
                                 c10::IntArrayRef strides) {
  TORCH_CHECK(sizes.size() <= static_cast<std::size_t>(hal::kMaxDims),
              "mlu kernels support at most ", hal::kMaxDims, " dimensions, got ", sizes.size());
  desc.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < desc.ndim; ++d) {
    desc.sizes[d] = sizes[d];
    desc.strides[d] = strides[d];
  }
  return desc;
}

// The strides of t with dim's replaced by 0.
inline std::vector<int64_t> strides_without(const at::Tensor& t, int64_t dim) {
  std::vector<int64_t> strides = t.strides().vec();
  strides[dim] = 0;
  return strides;
}

// An int64 index (0-d or 1-d, on the device) that varies along dim of the iteration shape,
// selecting along data_dim of data (a 0-d data tensor counts as one element).
inline hal::IndexOperand index_along(const at::Tensor& index, c10::IntArrayRef shape, int64_t dim,
                                     const at::Tensor& data, int64_t data_dim) {
  std::vector<int64_t> strides(shape.size(), 0);
  if (index.dim() == 1) strides[dim] = index.stride(0);
  hal::IndexOperand op;
  op.index = restrided(describe(index), shape, strides);
  op.size = data.dim() == 0 ? 1 : data.size(data_dim);
  op.stride = data.dim() == 0 ? 0 : data.stride(data_dim);
  op.dim = static_cast<int>(data_dim);
  return op;
}

// index as the operations take it: int64 on device (a CPU scalar is moved without synchronising).
inline at::Tensor long_index(const at::Tensor& index, c10::Device device) {
  return operand(index, at::kLong, index.sizes(), device);
}

}  // namespace torch_mlu::ops
