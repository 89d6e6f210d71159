// Embedding gradients and embedding bags. Index tensors are Int64 and contiguous; weights and
// gradients are 2-D [rows, features] with any strides. Out-of-range indices or malformed offsets
// throw KernelError naming them.
#pragma once

#include <cstdint>

#include "mlu/ops/embedding.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// grad_weight[indices[i]] += grad[i] for the rows i of grad, skipping padding_idx (negative:
// none). With scale_by_frequency each row is divided by how often its index occurs.
// grad_weight must be zero on entry.
void embedding_dense_backward(const TensorDesc& grad_weight, const TensorDesc& grad,
                              const TensorDesc& indices, std::int64_t padding_idx,
                              bool scale_by_frequency);

// output[b] = sum, mean or max of weight[indices[i]] (times per_sample_weights[i]) over the
// entries i of bag b; empty bags give zeros. offset2bag[i] is the bag of entry i (-1 past the
// last bag), bag_size[b] its entry count without padding (zero in Sum mode, zero-filled past the
// bags), max_indices[b][f] the row that gave output[b][f] in Max mode (else a copy of bag_size).
void embedding_bag_forward(const EmbeddingBag& bag, const TensorDesc& weight,
                           const TensorDesc& output, const TensorDesc& offset2bag,
                           const TensorDesc& bag_size, const TensorDesc& max_indices);

// The weight gradient of embedding_bag_forward from the bookkeeping it returned; grad_weight
// must be zero on entry.
void embedding_bag_backward(const EmbeddingBag& bag, const TensorDesc& grad_weight,
                            const TensorDesc& grad, const TensorDesc& offset2bag,
                            const TensorDesc& bag_size, const TensorDesc& max_indices,
                            bool scale_by_frequency);

// grad_per_sample_weights[i] = <grad[offset2bag[i]], weight[indices[i]]> (0 for padding).
void embedding_bag_per_sample_weights_backward(const EmbeddingBag& bag,
                                               const TensorDesc& grad_weights,
                                               const TensorDesc& grad, const TensorDesc& weight,
                                               const TensorDesc& offset2bag);

}  // namespace mlu::kernels
