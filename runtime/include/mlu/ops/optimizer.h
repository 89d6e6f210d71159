// Optimizer steps and gradient scaling: fused optimizer steps update every parameter of an
// optimizer's group in one unit of device work, as torch.optim's fused=True implementations
// (_fused_adam_, _fused_adamw_, _fused_sgd_) do; the AMP operations are torch.amp.GradScaler's.
// Scalars that live on the device are device addresses, read when the work runs.
#pragma once

#include <cstdint>
#include <vector>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

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

struct SgdSlot {
  TensorDesc param, grad, momentum_buffer;  // momentum_buffer.data is null without momentum
};

struct SgdConfig {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false, maximize = false, first_step = false;
  DeviceScalars device;
};

struct FusedAdam {
  static constexpr const char* name = "fused_adam";
  std::vector<AdamSlot> slots;
  AdamConfig config;
};
struct FusedAdamW : FusedAdam {  // config.decoupled_weight_decay set
  static constexpr const char* name = "fused_adamw";
};
struct FusedSgd {
  static constexpr const char* name = "fused_sgd";
  std::vector<SgdSlot> slots;
  SgdConfig config;
};

// grads[i] *= *inv_scale; *found_inf = 1 when any gradient holds an inf or a nan. found_inf and
// inv_scale point at single float32 values in device memory.
struct AmpUnscale {
  static constexpr const char* name = "amp_unscale";
  std::vector<TensorDesc> grads;
  float* found_inf;
  const float* inv_scale;
};
// GradScaler's update: back off and restart the streak after an overflow, otherwise grow the
// scale once growth_interval clean steps have passed.
struct AmpUpdateScale {
  static constexpr const char* name = "amp_update_scale";
  float* scale;
  std::int32_t* growth_tracker;
  const float* found_inf;
  float growth_factor, backoff_factor;
  std::int32_t growth_interval;
};

void enqueue(Queue* queue, const FusedAdam& op);
void enqueue(Queue* queue, const FusedAdamW& op);
void enqueue(Queue* queue, const FusedSgd& op);
void enqueue(Queue* queue, const AmpUnscale& op);
void enqueue(Queue* queue, const AmpUpdateScale& op);

}  // namespace mlu::hal
