// Sparse COO tensors on mlu, as far as recommendation training needs them: the sparse gradients
// of nn.Embedding and nn.EmbeddingBag (sparse=True), accumulating them, coalesce, index_select,
// to_dense/to_sparse, and the updates of SGD and SparseAdam (dense += sparse, sparse_mask).
// A sparse mlu tensor is PyTorch's own SparseTensorImpl whose indices and values are mlu tensors;
// the bookkeeping functions PyTorch shares between its CPU and CUDA sparse tensors serve it as
// they are, and the computing ones are compositions of native mlu operators.
#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <ATen/native/Resize.h>
#include <ATen/ops/_coalesced_native.h>
#include <ATen/ops/_indices_native.h>
#include <ATen/ops/_nnz_native.h>
#include <ATen/ops/_sparse_coo_tensor_with_dims_and_tensors_native.h>
#include <ATen/ops/_sparse_coo_tensor_with_dims_native.h>
#include <ATen/ops/_to_dense_native.h>
#include <ATen/ops/_values_native.h>
#include <ATen/ops/add_native.h>
#include <ATen/ops/clone_native.h>
#include <ATen/ops/copy_native.h>
#include <ATen/ops/copy_sparse_to_sparse_native.h>
#include <ATen/ops/dense_dim_native.h>
#include <ATen/ops/empty_native.h>
#include <ATen/ops/indices_native.h>
#include <ATen/ops/is_coalesced_native.h>
#include <ATen/ops/resize_as_sparse_native.h>
#include <ATen/ops/sparse_dim_native.h>
#include <ATen/ops/sparse_resize_and_clear_native.h>
#include <ATen/ops/sparse_resize_native.h>
#include <ATen/ops/values_native.h>
#include <ATen/ops/zero_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

namespace torch_mlu::ops {
namespace {

// Each nonzero's row-major position over the sparse dimensions: [nnz] int64.
at::Tensor linear_index(const at::Tensor& indices, at::IntArrayRef sparse_sizes) {
  std::vector<int64_t> strides(sparse_sizes.size(), 1);
  for (int64_t d = static_cast<int64_t>(sparse_sizes.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * sparse_sizes[d + 1];
  }
  const at::Tensor weights =
      at::tensor(strides, at::TensorOptions(at::kLong)).to(indices.device()).unsqueeze(1);
  return (indices * weights).sum(0);
}

// The dense tensor seen as [product of the sparse sizes, dense sizes...] (contiguous).
at::Tensor rows_view(const at::Tensor& dense, int64_t sparse_dim) {
  std::vector<int64_t> shape{-1};
  for (int64_t d = sparse_dim; d < dense.dim(); ++d) shape.push_back(dense.size(d));
  return dense.view(shape);
}

// The inverse of linear_index: [len(sparse_sizes), n] coordinates of row-major positions.
at::Tensor coordinates(const at::Tensor& position, at::IntArrayRef sparse_sizes) {
  std::vector<at::Tensor> rows(sparse_sizes.size());
  at::Tensor rest = position;
  for (int64_t d = static_cast<int64_t>(sparse_sizes.size()) - 1; d >= 0; --d) {
    rows[d] = rest.remainder(sparse_sizes[d]);
    rest = rest.div(sparse_sizes[d], "floor");
  }
  return at::stack(rows);
}

at::Tensor coalesce(const at::Tensor& self) {
  c10::DeviceGuard guard(self.device());
  const int64_t sparse_dim = self.sparse_dim();
  if (self._nnz() < 2) {
    at::Tensor result = self.clone();
    result._coalesced_(true);
    return result;
  }
  const at::IntArrayRef sizes = self.sizes();
  const at::Tensor position = linear_index(self._indices(), sizes.slice(0, sparse_dim));
  // Sorted distinct positions; inverse maps each nonzero to its position's slot.
  auto [unique, inverse, counts] = at::_unique2(position, /*sorted=*/true, /*return_inverse=*/true);
  const at::Tensor values = self._values();
  std::vector<int64_t> value_shape{unique.size(0)};
  for (int64_t d = 1; d < values.dim(); ++d) value_shape.push_back(values.size(d));
  const at::Tensor summed = at::zeros(value_shape, values.options()).index_add_(0, inverse, values);
  at::Tensor result =
      at::_sparse_coo_tensor_unsafe(coordinates(unique, sizes.slice(0, sparse_dim)), summed, sizes);
  result._coalesced_(true);
  return result;
}

// alpha * values in dtype (no multiplication for 1, which would promote bool to int64).
at::Tensor scaled(const at::Tensor& values, const at::Scalar& alpha, at::ScalarType dtype) {
  const bool one = alpha.isBoolean()         ? alpha.toBool()
                   : alpha.isIntegral(false) ? alpha.toLong() == 1
                                             : alpha.toDouble() == 1.0;
  return (one ? values : values.mul(alpha)).to(dtype);
}

// out = self + alpha * other, self dense and other sparse.
void add_sparse_into_dense(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha,
                           at::Tensor& out) {
  TORCH_CHECK(self.sizes() == other.sizes(), "add: expected a dense tensor and a sparse tensor of ",
              "the same size, got ", self.sizes(), " and ", other.sizes());
  if (!out.is_same(self)) {
    at::native::resize_output(out, self.sizes());
    out.copy_(self);
  }
  if (other._nnz() == 0) return;
  at::Tensor target = out.is_contiguous() ? out : out.contiguous();
  const int64_t sparse_dim = other.sparse_dim();
  const at::Tensor values = scaled(other._values(), alpha, out.scalar_type());
  rows_view(target, sparse_dim)
      .index_add_(0, linear_index(other._indices(), other.sizes().slice(0, sparse_dim)), values);
  if (!target.is_same(out)) out.copy_(target);
}

at::Tensor& add_out(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha,
                    at::Tensor& out) {
  c10::DeviceGuard guard(out.device());
  if (!self.is_sparse()) {
    TORCH_CHECK(!out.is_sparse(), "add: a dense tensor plus a sparse one is dense; got a sparse ",
                "out=");
    add_sparse_into_dense(self, other, alpha, out);
    return out;
  }
  TORCH_CHECK(other.is_sparse(), "add(sparse, dense) is not supported. Use add(dense, sparse) ",
              "instead.");
  TORCH_CHECK(self.sizes() == other.sizes(), "add: expected sizes of 'self' and 'other' to ",
              "match, but ", self.sizes(), " != ", other.sizes());
  TORCH_CHECK(self.sparse_dim() == other.sparse_dim(), "add: expected the same number of sparse ",
              "dimensions, got ", self.sparse_dim(), " and ", other.sparse_dim());
  TORCH_CHECK(out.is_sparse(), "add: the sum of sparse tensors is sparse; got a dense out=");
  const at::ScalarType type = out.scalar_type();
  const at::Tensor indices = at::cat({self._indices(), other._indices()}, 1);
  const at::Tensor values =
      at::cat({self._values().to(type), scaled(other._values(), alpha, type)}, 0);
  at::copy_sparse_to_sparse_(
      out, at::_sparse_coo_tensor_unsafe(indices, values, self.sizes()).coalesce());
  return out;
}

// The entries of dense self at mask's nonzeros, as a sparse tensor with mask's indices.
at::Tensor sparse_mask(const at::Tensor& self, const at::Tensor& mask) {
  TORCH_CHECK(mask.is_sparse() && !self.is_sparse(),
              "sparse_mask: expected a dense tensor and a sparse mask");
  TORCH_CHECK(self.sizes() == mask.sizes(), "sparse_mask(): operands have incompatible sizes; ",
              "self has size ", self.sizes(), " but mask has size ", mask.sizes());
  c10::DeviceGuard guard(self.device());
  const int64_t sparse_dim = mask.sparse_dim();
  const at::Tensor position = linear_index(mask._indices(), mask.sizes().slice(0, sparse_dim));
  const at::Tensor values = rows_view(self.contiguous(), sparse_dim).index_select(0, position);
  at::Tensor result = at::_sparse_coo_tensor_unsafe(mask._indices().clone(), values, mask.sizes());
  result._coalesced_(mask.is_coalesced());
  return result;
}

at::Tensor index_select(const at::Tensor& self, int64_t dim, const at::Tensor& index) {
  c10::DeviceGuard guard(self.device());
  dim = at::maybe_wrap_dim(dim, self.dim());
  TORCH_CHECK(
      index.dim() <= 1 && (index.scalar_type() == at::kLong || index.scalar_type() == at::kInt),
      "index_select(): expected a 1-D int64 or int32 index, got ", index.sizes(), " ",
      index.scalar_type());
  const at::Tensor wanted = index.reshape({-1}).to(self.device(), at::kLong);
  if (wanted.numel() > 0) {
    const int64_t low = wanted.min().item<int64_t>(), high = wanted.max().item<int64_t>();
    TORCH_CHECK_INDEX(low >= 0 && high < self.size(dim), "index_select(): index out of range ",
                      "for dimension ", dim, " of size ", self.size(dim));
  }
  std::vector<int64_t> sizes = self.sizes().vec();
  sizes[dim] = wanted.numel();
  const int64_t sparse_dim = self.sparse_dim();
  if (dim >= sparse_dim) {
    return at::_sparse_coo_tensor_unsafe(
        self._indices().clone(), self._values().index_select(dim - sparse_dim + 1, wanted), sizes);
  }
  // Every (nonzero, index position) pair whose coordinates agree along dim.
  const at::Tensor pairs =
      (self._indices()[dim].unsqueeze(1) == wanted.unsqueeze(0)).nonzero();  // [m, 2]
  const at::Tensor entry = pairs.select(1, 0), slot = pairs.select(1, 1);
  at::Tensor indices = self._indices().index_select(1, entry);
  indices[dim].copy_(slot);
  return at::_sparse_coo_tensor_unsafe(indices, self._values().index_select(0, entry), sizes);
}

// A dense tensor as a coalesced sparse one: a nonzero per position of the first sparse_dim
// dimensions where any of its values is nonzero.
at::Tensor dense_to_sparse_dims(const at::Tensor& self, int64_t sparse_dim) {
  TORCH_CHECK(sparse_dim > 0 && sparse_dim <= self.dim(), "to_sparse: sparse_dim ", sparse_dim,
              " is not in [1, ", self.dim(), "] for a tensor of ", self.dim(), " dimensions");
  c10::DeviceGuard guard(self.device());
  const at::Tensor rows = rows_view(self.contiguous(), sparse_dim);
  const at::Tensor nonzero = rows != 0;
  const at::Tensor kept =
      (sparse_dim == self.dim() ? nonzero : nonzero.flatten(1).any(1)).nonzero().squeeze(1);
  at::Tensor result =
      at::_sparse_coo_tensor_unsafe(coordinates(kept, self.sizes().slice(0, sparse_dim)),
                                    rows.index_select(0, kept), self.sizes());
  result._coalesced_(true);
  return result;
}

at::Tensor dense_to_sparse_with_layout(const at::Tensor& self, std::optional<c10::Layout> layout,
                                       at::OptionalIntArrayRef blocksize,
                                       std::optional<int64_t> dense_dim) {
  TORCH_CHECK(!layout.has_value() || *layout == c10::kSparse,
              "to_sparse: only the sparse COO layout is supported on mlu, got ", *layout);
  TORCH_CHECK(!blocksize.has_value(), "to_sparse: blocksize is for the blocked layouts");
  return dense_to_sparse_dims(self, self.dim() - dense_dim.value_or(0));
}

TORCH_LIBRARY_IMPL(aten, SparsePrivateUse1, m) {
  // What PyTorch's SparseCPU and SparseCUDA share: metadata, construction, copies.
  m.impl("_sparse_coo_tensor_with_dims", at::native::new_with_dims_sparse);
  m.impl("_sparse_coo_tensor_with_dims_and_tensors",
         at::native::new_with_dims_and_tensor_sparse_symint);
  m.impl("empty.memory_format", at::native::empty_sparse);
  m.impl("_indices", at::native::_indices_sparse);
  m.impl("_values", at::native::_values_sparse);
  m.impl("indices", at::native::indices_sparse);
  m.impl("values", at::native::values_sparse);
  m.impl("_nnz", at::native::_nnz_sparse);
  m.impl("sparse_dim", at::native::sparse_dim_sparse);
  m.impl("dense_dim", at::native::dense_dim_sparse);
  m.impl("is_coalesced", at::native::is_coalesced_sparse);
  m.impl("_coalesced_", at::native::_coalesced_sparse_);
  m.impl("sparse_resize_", at::native::sparse_resize_);
  m.impl("sparse_resize_and_clear_", at::native::sparse_resize_and_clear_);
  m.impl("resize_as_sparse_", at::native::resize_as_sparse_);
  m.impl("clone", at::native::clone_sparse);
  m.impl("copy_", at::native::copy_sparse_wrapper_);
  m.impl("copy_sparse_to_sparse_", at::native::copy_sparse_);
  m.impl("zero_", at::native::zero_sparse_);
  m.impl("_to_dense", at::native::sparse_to_dense);
  m.impl("add.Tensor", at::native::add_sparse);
  m.impl("add_.Tensor", at::native::add_sparse_);
  // Computed here.
  m.impl("_coalesce", coalesce);
  m.impl("add.out", add_out);
  m.impl("sparse_mask", sparse_mask);
  m.impl("index_select", index_select);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_to_sparse", dense_to_sparse_with_layout);
  m.impl("_to_sparse.sparse_dim", dense_to_sparse_dims);
}

}  // namespace
}  // namespace torch_mlu::ops
