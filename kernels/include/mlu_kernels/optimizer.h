// Fused optimizer steps (mlu/ops/optimizer.h).
#pragma once

#include <vector>

#include "mlu/ops/optimizer.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void fused_adam(const std::vector<AdamSlot>& slots, const AdamConfig& config);
void fused_sgd(const std::vector<SgdSlot>& slots, const SgdConfig& config);

}  // namespace mlu::kernels
