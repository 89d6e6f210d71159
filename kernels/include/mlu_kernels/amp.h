// Gradient scaling for mixed precision, as torch.amp.GradScaler uses it.
#pragma once

#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// grads[i] *= *inv_scale; *found_inf = 1 when any gradient holds an inf or a nan. found_inf and
// inv_scale point at single float32 values in device memory.
void unscale_and_check(const std::vector<TensorDesc>& grads, float* found_inf,
                       const float* inv_scale);

// GradScaler's update: back off and restart the streak after an overflow, otherwise grow the
// scale once growth_interval clean steps have passed.
void update_scale(float* scale, std::int32_t* growth_tracker, const float* found_inf,
                  float growth_factor, float backoff_factor, std::int32_t growth_interval);

}  // namespace mlu::kernels
