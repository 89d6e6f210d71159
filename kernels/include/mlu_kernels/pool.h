// Pooling kernels (mlu/ops/pool.h).
#pragma once

#include "mlu/ops/pool.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void max_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& indices,
              const TensorDesc& in);
void avg_pool(const PoolParams& p, const TensorDesc& out, const TensorDesc& in);
void avg_pool_backward(const PoolParams& p, const TensorDesc& grad_in, const TensorDesc& grad_out);

void adaptive_max_pool(const TensorDesc& out, const TensorDesc& indices, const TensorDesc& in);
void adaptive_avg_pool(const TensorDesc& out, const TensorDesc& in);
void adaptive_avg_pool_backward(const TensorDesc& grad_in, const TensorDesc& grad_out);

void max_pool_backward(const TensorDesc& grad_in, const TensorDesc& grad_out,
                       const TensorDesc& indices);

}  // namespace mlu::kernels
