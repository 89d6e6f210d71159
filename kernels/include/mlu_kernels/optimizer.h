// Fused optimizer steps: one launch updates every parameter of an optimizer's group, as
// torch.optim's fused=True implementations (_fused_adam_, _fused_adamw_, _fused_sgd_) do.
#pragma once

#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// One parameter's tensors, all contiguous and of the parameter's dtype (step: one float32).
struct AdamSlot {
  TensorDesc param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq;  // max_exp_avg_sq.data may be null
  const float* step = nullptr;
};

// Values that live on the device, read when the step runs; each may be null.
struct DeviceScalars {
  const float* lr = nullptr;          // overrides the configured lr
  const float* grad_scale = nullptr;  // gradients are divided by it (and written back unscaled)
  const float* found_inf = nullptr;   // a non-zero value skips the whole step
};

struct AdamConfig {
  double lr = 0, beta1 = 0, beta2 = 0, weight_decay = 0, eps = 0;
  bool amsgrad = false, maximize = false;
  bool decoupled_weight_decay = false;  // AdamW
  DeviceScalars device;
};

void fused_adam(const std::vector<AdamSlot>& slots, const AdamConfig& config);

struct SgdSlot {
  TensorDesc param, grad, momentum_buffer;  // momentum_buffer.data is null without momentum
};

struct SgdConfig {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false, maximize = false, first_step = false;
  DeviceScalars device;
};

void fused_sgd(const std::vector<SgdSlot>& slots, const SgdConfig& config);

}  // namespace mlu::kernels
