// Embedding gradients and embedding bags. Index tensors are Int64 and contiguous; weights and
// gradients are 2-D [rows, features] with any strides. Out-of-range indices or malformed offsets
// are errors naming them.
#pragma once

#include <cstdint>
#include <optional>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// grad_weight[indices[i]] += grad[i] for the rows i of grad, skipping padding_idx (negative:
// none). With scale_by_frequency each row is divided by how often its index occurs.
// grad_weight must be zero on entry.
struct EmbeddingDenseBackward {
  static constexpr const char* name = "embedding_dense_backward";
  TensorDesc grad_weight, grad, indices;
  std::int64_t padding_idx;
  bool scale_by_frequency;
};

enum class BagMode : std::int64_t { Sum = 0, Mean = 1, Max = 2 };

struct EmbeddingBag {
  TensorDesc indices;                            // [n]
  TensorDesc offsets;                            // [bags], or [bags + 1] with include_last_offset
  std::optional<TensorDesc> per_sample_weights;  // [n], weight's dtype; Sum mode only
  BagMode mode = BagMode::Sum;
  std::int64_t padding_idx = -1;  // entries with this index are left out
  bool include_last_offset = false;
};

// output[b] = sum, mean or max of weight[indices[i]] (times per_sample_weights[i]) over the
// entries i of bag b; empty bags give zeros. offset2bag[i] is the bag of entry i (-1 past the
// last bag), bag_size[b] its entry count without padding (zero in Sum mode, zero-filled past the
// bags), max_indices[b][f] the row that gave output[b][f] in Max mode (else a copy of bag_size).
struct EmbeddingBagForward {
  static constexpr const char* name = "embedding_bag";
  EmbeddingBag bag;
  TensorDesc weight, output, offset2bag, bag_size, max_indices;
};

// The weight gradient of EmbeddingBagForward from the bookkeeping it returned; grad_weight must
// be zero on entry.
struct EmbeddingBagBackward {
  static constexpr const char* name = "embedding_bag_backward";
  EmbeddingBag bag;
  TensorDesc grad_weight, grad, offset2bag, bag_size, max_indices;
  bool scale_by_frequency;
};

// grad_weights[i] = <grad[offset2bag[i]], weight[indices[i]]> (0 for padding).
struct EmbeddingBagPerSampleWeightsBackward {
  static constexpr const char* name = "embedding_bag_per_sample_weights_backward";
  EmbeddingBag bag;
  TensorDesc grad_weights, grad, weight, offset2bag;
};

void enqueue(Queue* queue, const EmbeddingDenseBackward& op);
void enqueue(Queue* queue, const EmbeddingBagForward& op);
void enqueue(Queue* queue, const EmbeddingBagBackward& op);
void enqueue(Queue* queue, const EmbeddingBagPerSampleWeightsBackward& op);

}  // namespace mlu::hal
