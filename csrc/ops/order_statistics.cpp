// Order statistics: kthvalue, median and nanmedian (with indices along a dim, or of the whole
// tensor), and unique, from the native stable sort. NaN sorts last: median propagates it (the first
// NaN of the row, as CPU reports it), nanmedian skips it, kthvalue counts it as the largest value.
#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using ValuesIndices = std::tuple<at::Tensor&, at::Tensor&>;

// values/indices = the sorted row's element at position (keepdim shape, int64) along dim.
ValuesIndices pick(const at::Tensor& sorted, const at::Tensor& order, const at::Tensor& position,
                   int64_t dim, bool keepdim, at::Tensor& values, at::Tensor& indices) {
  at::Tensor v = sorted.gather(dim, position), i = order.gather(dim, position);
  if (!keepdim) v = v.squeeze(dim), i = i.squeeze(dim);
  at::native::resize_output(values, v.sizes());
  at::native::resize_output(indices, i.sizes());
  values.copy_(v);
  indices.copy_(i);
  return {values, indices};
}

// The input as a row along dim (0-d inputs as one element), checked non-empty.
at::Tensor rows_of(const at::Tensor& self, int64_t& dim, const char* name) {
  common_device({&self});
  dim = at::maybe_wrap_dim(dim, self.dim());
  const at::Tensor x = self.dim() == 0 ? self.unsqueeze(0) : self;
  TORCH_CHECK_INDEX(x.size(dim) > 0, name, "(): Expected reduction dim ", dim,
                    " to have non-zero size.");
  return x;
}

ValuesIndices kthvalue_out(const at::Tensor& self, int64_t k, int64_t dim, bool keepdim,
                           at::Tensor& values, at::Tensor& indices) {
  c10::DeviceGuard guard(self.device());
  const at::Tensor x = rows_of(self, dim, "kthvalue");
  TORCH_CHECK(k >= 1 && k <= x.size(dim),
              "kthvalue(): selected number k out of range for dimension ", dim);
  auto [sorted, order] = x.sort(std::optional<bool>(true), dim, /*descending=*/false);
  std::vector<int64_t> shape = x.sizes().vec();
  shape[dim] = 1;
  const at::Tensor position = at::full(shape, k - 1, x.options().dtype(at::kLong));
  ValuesIndices result =
      pick(sorted, order, position, dim, keepdim || self.dim() == 0, values, indices);
  if (self.dim() == 0) values.squeeze_(), indices.squeeze_();
  return result;
}

// The (lower) median's position in each sorted row; with NaNs, the first NaN (median) or the
// median of the numbers (nanmedian).
at::Tensor median_position(const at::Tensor& x, int64_t dim, bool ignore_nan) {
  const at::Tensor nans = x.isnan().sum(dim, /*keepdim=*/true);
  const at::Tensor numbers = x.size(dim) - nans;
  if (ignore_nan) return at::where(numbers > 0, (numbers - 1).div(2, "floor"), 0);
  return at::where(nans > 0, numbers, (x.size(dim) - 1) / 2);
}

template <bool ignore_nan>
ValuesIndices median_dim_out(const at::Tensor& self, int64_t dim, bool keepdim, at::Tensor& values,
                             at::Tensor& indices) {
  c10::DeviceGuard guard(self.device());
  const at::Tensor x = rows_of(self, dim, ignore_nan ? "nanmedian" : "median");
  auto [sorted, order] = x.sort(std::optional<bool>(true), dim, /*descending=*/false);
  ValuesIndices result = pick(sorted, order, median_position(x, dim, ignore_nan), dim,
                              keepdim || self.dim() == 0, values, indices);
  if (self.dim() == 0) values.squeeze_(), indices.squeeze_();
  return result;
}

template <bool ignore_nan>
at::Tensor median_all(const at::Tensor& self) {
  c10::DeviceGuard guard(self.device());
  TORCH_CHECK(self.numel() > 0, ignore_nan ? "nanmedian" : "median",
              "() input tensor cannot be empty");
  at::Tensor values = at::empty({0}, self.options()),
             indices = at::empty({0}, self.options().dtype(at::kLong));
  median_dim_out<ignore_nan>(self.reshape(-1), 0, false, values, indices);
  return values;
}

// unique of the flattened tensor, in sorted order (also for sorted=False, whose order PyTorch
// leaves unspecified); each NaN is its own value, as on CPU. The number of values is read back.
std::tuple<at::Tensor, at::Tensor, at::Tensor> unique(const at::Tensor& self, bool /*sorted*/,
                                                      bool return_inverse, bool return_counts) {
  c10::DeviceGuard guard(common_device({&self}));
  const at::TensorOptions index_options = self.options().dtype(at::kLong);
  const at::Tensor flat = self.reshape(-1);
  const int64_t n = flat.numel();
  if (n == 0) {
    return {at::empty({0}, self.options()),
            at::empty(return_inverse ? self.sizes() : at::IntArrayRef{0}, index_options),
            at::empty({0}, index_options)};
  }
  auto [sorted, order] = flat.sort(std::optional<bool>(true), 0, /*descending=*/false);
  at::Tensor starts = at::empty({n}, self.options().dtype(at::kBool));
  starts.narrow(0, 0, 1).fill_(true);
  if (n > 1) {
    at::Tensor rest = starts.narrow(0, 1, n - 1);
    at::ne_out(rest, sorted.narrow(0, 1, n - 1), sorted.narrow(0, 0, n - 1));
  }
  const at::Tensor values = sorted.masked_select(starts);
  const at::Tensor group = starts.cumsum(0) - 1;  // each sorted element's value number
  at::Tensor inverse = at::empty({0}, index_options), counts = at::empty({0}, index_options);
  if (return_inverse)
    inverse = at::empty({n}, index_options).scatter_(0, order, group).view(self.sizes());
  if (return_counts)
    counts = at::zeros({values.numel()}, index_options).index_add_(0, group, at::ones_like(group));
  return {values, inverse, counts};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("kthvalue.values", kthvalue_out);
  m.impl("median", median_all<false>);
  m.impl("median.dim_values", median_dim_out<false>);
  m.impl("nanmedian", median_all<true>);
  m.impl("nanmedian.dim_values", median_dim_out<true>);
  m.impl("_unique2", unique);
}

}  // namespace
}  // namespace torch_mlu::ops
