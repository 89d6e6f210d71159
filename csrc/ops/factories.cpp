// Native arange, linspace, logspace, eye, tril_indices and triu_indices (full, zeros and ones are
// PyTorch's compositions of empty and fill_, which are native already). Sizes and checks follow
// PyTorch's RangeFactories and TensorFactories.
#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/native/TensorFactories.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace torch_mlu::ops {
namespace {

// Resizes a factory's out= tensor to n elements, warning as PyTorch does when it had another size.
void resize_vector(at::Tensor& out, int64_t n) {
  if (out.numel() == n) return;
  if (out.numel() > 0) {
    TORCH_WARN("The number of elements in the out tensor of shape ", out.sizes(), " is ",
               out.numel(), " which does not match the computed number of elements ", n,
               ". Note that this may occur as a result of rounding error. "
               "The out tensor will be resized to a tensor of shape (",
               n, ",).");
  }
  out.resize_({n});
}

at::Tensor& arange_out(const at::Scalar& start, const at::Scalar& end, const at::Scalar& step,
                       at::Tensor& out) {
  const c10::Device device = common_device({&out});
  c10::DeviceGuard guard(device);
  AT_DISPATCH_ALL_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "arange_mlu", [&] {
    using accscalar_t = at::acc_type<scalar_t, false>;
    const auto xstart = start.to<accscalar_t>(), xend = end.to<accscalar_t>(),
               xstep = step.to<accscalar_t>();
    TORCH_CHECK(xstep > 0 || xstep < 0, "step must be nonzero");
    TORCH_CHECK(
        std::isfinite(static_cast<double>(xstart)) && std::isfinite(static_cast<double>(xend)),
        "unsupported range: ", xstart, " -> ", xend);
    TORCH_CHECK(((xstep > 0) && (xend >= xstart)) || ((xstep < 0) && (xend <= xstart)),
                "upper bound and larger bound inconsistent with step sign");
    double size_d;
    if constexpr (std::is_same_v<scalar_t, int64_t>) {
      const int64_t sign = (xstep > 0) - (xstep < 0);
      size_d = static_cast<double>((xend - xstart + xstep - sign) / xstep);  // exact in integers
    } else {
      size_d = std::ceil((end.to<double>() - start.to<double>()) / step.to<double>());
    }
    TORCH_CHECK(size_d >= 0 && size_d <= static_cast<double>(std::numeric_limits<int64_t>::max()),
                "invalid size, possible overflow?");
    resize_vector(out, static_cast<int64_t>(size_d));
    if (out.numel() == 0) return;
    if constexpr (std::is_integral_v<scalar_t>) {
      launch(out, hal::ArangeIntegral{describe(out), static_cast<int64_t>(xstart),
                                      static_cast<int64_t>(xstep)});
    } else {
      launch(out,
             hal::Arange{describe(out), static_cast<double>(xstart), static_cast<double>(xstep)});
    }
  });
  return out;
}

at::Tensor& linspace_out(const at::Scalar& start, const at::Scalar& end, int64_t steps,
                         at::Tensor& out) {
  const c10::Device device = common_device({&out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(steps >= 0, "number of steps must be non-negative");
  if (out.numel() != steps) out.resize_({steps});
  if (steps == 0) return out;
  if (steps == 1) return out.fill_(start);
  // The end points in the output dtype first, as PyTorch's kernel takes them.
  double first = 0, last = 0;
  AT_DISPATCH_ALL_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "linspace_mlu", [&] {
    first = static_cast<double>(start.to<scalar_t>());
    last = static_cast<double>(end.to<scalar_t>());
  });
  launch(out, hal::Linspace{describe(out), first, last});
  return out;
}

at::Tensor& logspace_out(const at::Scalar& start, const at::Scalar& end, int64_t steps, double base,
                         at::Tensor& out) {
  const c10::Device device = common_device({&out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(steps >= 0, "number of steps must be non-negative");
  if (out.numel() != steps) out.resize_({steps});
  if (steps == 0) return out;
  if (steps == 1) return out.fill_(std::pow(base, start.to<double>()));
  double first = 0, last = 0, power_base = base;
  AT_DISPATCH_ALL_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "logspace_mlu", [&] {
    first = static_cast<double>(start.to<scalar_t>());
    last = static_cast<double>(end.to<scalar_t>());
    // PyTorch's kernel raises a float base for integral outputs.
    if constexpr (std::is_integral_v<scalar_t>) power_base = static_cast<float>(base);
  });
  launch(out, hal::Logspace{describe(out), first, last, power_base});
  return out;
}

at::Tensor& eye_m_out(int64_t n, int64_t m, at::Tensor& out) {
  TORCH_CHECK(n >= 0, "n must be greater or equal to 0, got ", n);
  TORCH_CHECK(m >= 0, "m must be greater or equal to 0, got ", m);
  out.resize_({n, m});
  out.zero_();
  if (std::min(n, m) > 0) out.diagonal().fill_(1);
  return out;
}

at::Tensor& eye_out(int64_t n, at::Tensor& out) { return eye_m_out(n, n, out); }

at::Tensor triangle_indices(const char* name, bool upper, int64_t row, int64_t col, int64_t offset,
                            std::optional<c10::ScalarType> dtype, std::optional<c10::Layout> layout,
                            std::optional<c10::Device> device, std::optional<bool> pin_memory) {
  TORCH_CHECK(row >= 0, "row must be non-negative, got", row);
  TORCH_CHECK(col >= 0, "col must be non-negative, got", col);
  TORCH_CHECK(layout.value_or(at::kStrided) == at::kStrided,
              "only support layout=torch.strided, got", *layout);
  const c10::ScalarType type = dtype.value_or(at::kLong);
  TORCH_CHECK(type == at::kLong || type == at::kInt, "\"", name, "\" not implemented for '",
              c10::toString(type), "'");
  const int64_t n = upper ? row * col - at::native::get_tril_size(row, col, offset - 1)
                          : at::native::get_tril_size(row, col, offset);
  at::Tensor out =
      at::empty({2, n}, at::TensorOptions().dtype(type).device(device).pinned_memory(pin_memory));
  if (n == 0) return out;
  const hal::TriangleIndices indices{describe(out), col, offset};
  upper ? launch(out, hal::TriuIndices{indices}) : launch(out, hal::TrilIndices{indices});
  return out;
}

at::Tensor tril_indices(int64_t row, int64_t col, int64_t offset,
                        std::optional<c10::ScalarType> dtype, std::optional<c10::Layout> layout,
                        std::optional<c10::Device> device, std::optional<bool> pin_memory) {
  return triangle_indices("tril_indices", false, row, col, offset, dtype, layout, device,
                          pin_memory);
}
at::Tensor triu_indices(int64_t row, int64_t col, int64_t offset,
                        std::optional<c10::ScalarType> dtype, std::optional<c10::Layout> layout,
                        std::optional<c10::Device> device, std::optional<bool> pin_memory) {
  return triangle_indices("triu_indices", true, row, col, offset, dtype, layout, device,
                          pin_memory);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("arange.start_out", arange_out);
  m.impl("linspace.out", linspace_out);
  m.impl("logspace.out", logspace_out);
  m.impl("tril_indices", tril_indices);
  m.impl("triu_indices", triu_indices);
  m.impl("eye.out", eye_out);
  m.impl("eye.m_out", eye_m_out);
}

}  // namespace
}  // namespace torch_mlu::ops
