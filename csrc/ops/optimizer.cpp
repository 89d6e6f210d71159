// Fused optimizer steps (torch.optim's fused=True): one launch per parameter group.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

const float* scalar_on_device(const std::optional<at::Tensor>& t, const char* name) {
  if (!t || !t->defined()) return nullptr;
  TORCH_CHECK(t->device().type() == kMLU && t->numel() == 1 && t->scalar_type() == at::kFloat, name,
              " must be a one-element float32 mlu tensor");
  return kernel_data<float>(*t);
}

hal::DeviceScalars device_scalars(const at::Tensor* lr, const std::optional<at::Tensor>& grad_scale,
                                  const std::optional<at::Tensor>& found_inf) {
  hal::DeviceScalars scalars;
  scalars.lr = lr ? scalar_on_device(*lr, "lr") : nullptr;
  scalars.grad_scale = scalar_on_device(grad_scale, "grad_scale");
  scalars.found_inf = scalar_on_device(found_inf, "found_inf");
  return scalars;
}

void check_list(at::TensorList params, at::TensorList other, const char* name) {
  TORCH_CHECK(other.size() == params.size(), "fused optimizer: expected ", params.size(), " ", name,
              ", got ", other.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    TORCH_CHECK(other[i].device() == params[i].device() && other[i].sizes() == params[i].sizes() &&
                    other[i].scalar_type() == params[i].scalar_type() &&
                    same_dense_layout(other[i], params[i]),
                "fused optimizer: ", name, "[", i,
                "] must be a tensor of the parameter's device, shape, dtype and memory layout");
  }
}

c10::Device group_device(at::TensorList params) {
  TORCH_CHECK(!params.empty(), "fused optimizer: no parameters");
  for (const at::Tensor& p : params) {
    TORCH_CHECK(
        p.device() == params[0].device() && p.device().type() == kMLU &&
            p.is_non_overlapping_and_dense() && c10::isFloatingType(p.scalar_type()),
        "fused optimizer: parameters must be floating-point tensors without gaps or overlap on "
        "one mlu device");
  }
  return params[0].device();
}

void adam(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
          at::TensorList exp_avg_sqs, at::TensorList max_exp_avg_sqs, at::TensorList steps,
          double lr, const at::Tensor* lr_tensor, double beta1, double beta2, double weight_decay,
          double eps, bool amsgrad, bool maximize, const std::optional<at::Tensor>& grad_scale,
          const std::optional<at::Tensor>& found_inf, bool adamw) {
  const c10::Device device = group_device(params);
  check_list(params, grads, "grads");
  check_list(params, exp_avgs, "exp_avgs");
  check_list(params, exp_avg_sqs, "exp_avg_sqs");
  if (amsgrad) check_list(params, max_exp_avg_sqs, "max_exp_avg_sqs");
  TORCH_CHECK(steps.size() == params.size(), "fused optimizer: expected one step per parameter");
  for (const at::Tensor& s : steps) {
    TORCH_CHECK(s.device() == device && s.numel() == 1 && s.scalar_type() == at::kFloat,
                "fused optimizer: steps must be one-element float32 tensors on ", device);
  }
  c10::DeviceGuard guard(device);
  std::vector<hal::AdamSlot> slots;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].numel() == 0) continue;
    hal::AdamSlot slot{describe_flat(params[i]),
                       describe_flat(grads[i]),
                       describe_flat(exp_avgs[i]),
                       describe_flat(exp_avg_sqs[i]),
                       amsgrad ? describe_flat(max_exp_avg_sqs[i]) : hal::TensorDesc{},
                       kernel_data<float>(steps[i])};
    slots.push_back(slot);
  }
  hal::AdamConfig config;
  config.lr = lr;
  config.beta1 = beta1;
  config.beta2 = beta2;
  config.weight_decay = weight_decay;
  config.eps = eps;
  config.amsgrad = amsgrad;
  config.maximize = maximize;
  config.decoupled_weight_decay = adamw;
  config.device = device_scalars(lr_tensor, grad_scale, found_inf);
  hal::FusedAdam step{std::move(slots), config};
  adamw ? launch(params[0], hal::FusedAdamW{std::move(step)}) : launch(params[0], step);
}

template <bool adamw>
void adam_scalar_lr(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                    at::TensorList exp_avg_sqs, at::TensorList max_exp_avg_sqs,
                    at::TensorList steps, double lr, double beta1, double beta2,
                    double weight_decay, double eps, bool amsgrad, bool maximize,
                    const std::optional<at::Tensor>& grad_scale,
                    const std::optional<at::Tensor>& found_inf) {
  adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, nullptr, beta1, beta2,
       weight_decay, eps, amsgrad, maximize, grad_scale, found_inf, adamw);
}

template <bool adamw>
void adam_tensor_lr(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                    at::TensorList exp_avg_sqs, at::TensorList max_exp_avg_sqs,
                    at::TensorList steps, const at::Tensor& lr, double beta1, double beta2,
                    double weight_decay, double eps, bool amsgrad, bool maximize,
                    const std::optional<at::Tensor>& grad_scale,
                    const std::optional<at::Tensor>& found_inf) {
  adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, 0, &lr, beta1, beta2,
       weight_decay, eps, amsgrad, maximize, grad_scale, found_inf, adamw);
}

void sgd(at::TensorList params, at::TensorList grads, at::TensorList bufs, double weight_decay,
         double momentum, double lr, const at::Tensor* lr_tensor, double dampening, bool nesterov,
         bool maximize, bool first_step, const std::optional<at::Tensor>& grad_scale,
         const std::optional<at::Tensor>& found_inf) {
  const c10::Device device = group_device(params);
  check_list(params, grads, "grads");
  if (momentum != 0) check_list(params, bufs, "momentum_buffer_list");
  c10::DeviceGuard guard(device);
  std::vector<hal::SgdSlot> slots;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].numel() == 0) continue;
    slots.push_back({describe_flat(params[i]), describe_flat(grads[i]),
                     momentum != 0 ? describe_flat(bufs[i]) : hal::TensorDesc{}});
  }
  hal::SgdConfig config;
  config.lr = lr;
  config.weight_decay = weight_decay;
  config.momentum = momentum;
  config.dampening = dampening;
  config.nesterov = nesterov;
  config.maximize = maximize;
  config.first_step = first_step;
  config.device = device_scalars(lr_tensor, grad_scale, found_inf);
  launch(params[0], hal::FusedSgd{std::move(slots), config});
}

void sgd_scalar_lr(at::TensorList params, at::TensorList grads, at::TensorList bufs,
                   double weight_decay, double momentum, double lr, double dampening, bool nesterov,
                   bool maximize, bool first_step, const std::optional<at::Tensor>& grad_scale,
                   const std::optional<at::Tensor>& found_inf) {
  sgd(params, grads, bufs, weight_decay, momentum, lr, nullptr, dampening, nesterov, maximize,
      first_step, grad_scale, found_inf);
}

void sgd_tensor_lr(at::TensorList params, at::TensorList grads, at::TensorList bufs,
                   double weight_decay, double momentum, const at::Tensor& lr, double dampening,
                   bool nesterov, bool maximize, bool first_step,
                   const std::optional<at::Tensor>& grad_scale,
                   const std::optional<at::Tensor>& found_inf) {
  sgd(params, grads, bufs, weight_decay, momentum, 0, &lr, dampening, nesterov, maximize,
      first_step, grad_scale, found_inf);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_fused_adam_", adam_scalar_lr<false>);
  m.impl("_fused_adam_.tensor_lr", adam_tensor_lr<false>);
  m.impl("_fused_adamw_", adam_scalar_lr<true>);
  m.impl("_fused_adamw_.tensor_lr", adam_tensor_lr<true>);
  m.impl("_fused_sgd_", sgd_scalar_lr);
  m.impl("_fused_sgd_.tensor_lr", sgd_tensor_lr);
}

}  // namespace
}  // namespace torch_mlu::ops
