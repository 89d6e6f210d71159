// Embedding kernels: the implementation of mlu/ops/embedding.h's operations. Out-of-range
// indices or malformed offsets throw KernelError naming them.
#pragma once

#include <cstdint>

#include "mlu/ops/embedding.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void embedding_dense_backward(const TensorDesc& grad_weight, const TensorDesc& grad,
                              const TensorDesc& indices, std::int64_t padding_idx,
                              bool scale_by_frequency);

void embedding_bag_forward(const EmbeddingBag& bag, const TensorDesc& weight,
                           const TensorDesc& output, const TensorDesc& offset2bag,
                           const TensorDesc& bag_size, const TensorDesc& max_indices);

void embedding_bag_backward(const EmbeddingBag& bag, const TensorDesc& grad_weight,
                            const TensorDesc& grad, const TensorDesc& offset2bag,
                            const TensorDesc& bag_size, const TensorDesc& max_indices,
                            bool scale_by_frequency);

void embedding_bag_per_sample_weights_backward(const EmbeddingBag& bag,
                                               const TensorDesc& grad_weights,
                                               const TensorDesc& grad, const TensorDesc& weight,
                                               const TensorDesc& offset2bag);

}  // namespace mlu::kernels
