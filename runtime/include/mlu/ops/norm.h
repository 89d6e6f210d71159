// Normalisations: batch norm (per channel), layer norm (per row), group norm (per sample and
// channel group), forward and backward. Statistics accumulate in double; float16 and bfloat16
// data compute in float32. Per-channel parameter and statistics vectors may have any floating
// dtype (PyTorch keeps them in float32 for 16-bit inputs).
#pragma once

#include <cstdint>
#include <optional>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// Batch norm operates on [N, C, S] views (S: the spatial dims flattened, which any contiguous or
// channels-last tensor allows); the vectors are [C].
struct BatchNormVectors {
  std::optional<TensorDesc> weight, bias;               // scale 1 and shift 0 when absent
  std::optional<TensorDesc> running_mean, running_var;  // updated in place when training
  std::optional<TensorDesc> save_mean, save_invstd;     // training: batch mean, 1 / sqrt(var + eps)
};

// training: normalises with the batch statistics, writes save_mean and save_invstd and updates
// the running statistics (unbiased variance) with momentum. Otherwise uses the running ones.
struct BatchNorm {
  static constexpr const char* name = "batch_norm";
  TensorDesc out, in;
  BatchNormVectors vectors;
  bool training;
  double momentum, eps;
};

// Writes the gradients that are present; training uses save_mean and save_invstd, otherwise the
// running statistics.
struct BatchNormBackward {
  static constexpr const char* name = "batch_norm_backward";
  std::optional<TensorDesc> grad_in, grad_weight, grad_bias;
  TensorDesc grad_out, in;
  BatchNormVectors vectors;
  bool training;
  double eps;
};

// Layer norm and group norm operate on contiguous [rows, row_size] views of the input; each row is
// normalised with its own mean and rstd = 1 / sqrt(var + eps) (biased variance). Channel c of
// weight and bias applies to elements [c * inner, (c + 1) * inner) of each row; layer norm has
// inner = 1 and one channel per element, group norm rows of channels_per_group * spatial
// elements, inner = spatial. Rows of one sample hold consecutive channel groups.
struct RowNorm {
  std::int64_t rows = 0;
  std::int64_t row_size = 0;
  std::int64_t inner = 1;            // elements per channel
  std::int64_t channels = 0;         // of weight and bias
  std::optional<TensorDesc> weight;  // [channels], contiguous
  std::optional<TensorDesc> bias;
};

// in, out: contiguous, rows * row_size elements; mean, rstd: contiguous [rows]. Layer norm and
// group norm are the same row normalisation under their operators' names.
struct LayerNorm {
  static constexpr const char* name = "layer_norm";
  RowNorm norm;
  TensorDesc out, in, mean, rstd;
  double eps;
};
struct GroupNorm {
  static constexpr const char* name = "group_norm";
  RowNorm norm;
  TensorDesc out, in, mean, rstd;
  double eps;
};

// Writes the gradients that are present.
struct RowNormBackward {
  static constexpr const char* name = "row_norm_backward";
  RowNorm norm;
  std::optional<TensorDesc> grad_in, grad_weight, grad_bias;
  TensorDesc grad_out, in, mean, rstd;
};

void enqueue(Queue* queue, const BatchNorm& op);
void enqueue(Queue* queue, const BatchNormBackward& op);
void enqueue(Queue* queue, const LayerNorm& op);
void enqueue(Queue* queue, const GroupNorm& op);
void enqueue(Queue* queue, const RowNormBackward& op);

}  // namespace mlu::hal
