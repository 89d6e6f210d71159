// Gradient scaling for mixed precision, as torch.amp.GradScaler uses it (mlu/ops/optimizer.h).
#pragma once

#include <cstdint>
#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void unscale_and_check(const std::vector<TensorDesc>& grads, float* found_inf,
                       const float* inv_scale);

void update_scale(float* scale, std::int32_t* growth_tracker, const float* found_inf,
                  float growth_factor, float backoff_factor, std::int32_t growth_interval);

}  // namespace mlu::kernels
