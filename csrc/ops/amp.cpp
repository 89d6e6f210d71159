// GradScaler's device operations: unscaling with inf/nan detection, and the scale update.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

void check_scalar(const at::Tensor& t, c10::ScalarType dtype, const char* name) {
  TORCH_CHECK(t.numel() == 1 && t.scalar_type() == dtype, name, " must be a one-element ", dtype,
              " tensor, got ", t.scalar_type(), " with ", t.numel(), " elements");
}

void unscale(at::TensorList grads, at::Tensor& found_inf, const at::Tensor& inv_scale) {
  if (grads.empty()) return;
  const c10::Device device = common_device({&found_inf, &inv_scale});
  for (const at::Tensor& g : grads) {
    TORCH_CHECK(g.device() == device, "every gradient must be on ", device, ", found one on ",
                g.device());
    TORCH_CHECK(c10::isFloatingType(g.scalar_type()), "gradients must be floating point, found ",
                g.scalar_type());
  }
  check_scalar(found_inf, at::kFloat, "found_inf");
  check_scalar(inv_scale, at::kFloat, "inv_scale");
  c10::DeviceGuard guard(device);
  std::vector<hal::TensorDesc> descs;
  for (const at::Tensor& g : grads) {
    if (g.numel() > 0) descs.push_back(describe(g));
  }
  launch(found_inf, hal::AmpUnscale{std::move(descs), kernel_data<float>(found_inf),
                                    kernel_data<float>(inv_scale)});
}

at::Tensor& update_scale(at::Tensor& scale, at::Tensor& growth_tracker, const at::Tensor& found_inf,
                         double growth_factor, double backoff_factor, int64_t growth_interval) {
  const c10::Device device = common_device({&scale, &growth_tracker, &found_inf});
  check_scalar(scale, at::kFloat, "scale");
  check_scalar(growth_tracker, at::kInt, "growth_tracker");
  check_scalar(found_inf, at::kFloat, "found_inf");
  c10::DeviceGuard guard(device);
  launch(scale, hal::AmpUpdateScale{
                    kernel_data<float>(scale), kernel_data<int32_t>(growth_tracker),
                    kernel_data<float>(found_inf), static_cast<float>(growth_factor),
                    static_cast<float>(backoff_factor), static_cast<int32_t>(growth_interval)});
  return scale;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_amp_foreach_non_finite_check_and_unscale_", unscale);
  m.impl("_amp_update_scale_", update_scale);
}

}  // namespace
}  // namespace torch_mlu::ops
