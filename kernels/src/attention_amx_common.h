// What attention's AMX paths share (attention_amx.cpp: tile by tile; attention_amx_batched.cpp:
// short slices whole, their products batched over slices): 16-bit rows, float32 blocks scaled and
// rounded, and which path a call takes.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "convert_block.h"
#include "mlu_kernels/attention.h"

namespace mlu::kernels::attention_amx {

// Rows of one (batch, head) slice of a 16-bit operand: row l starts at base + l * stride.
template <typename T>
struct Rows {
  T* base;
  std::int64_t stride;
  T* row(std::int64_t l) const { return base + l * stride; }
};

template <typename T>
Rows<T> rows_of(const TensorDesc& d, std::int64_t b, std::int64_t h) {
  return {static_cast<T*>(d.data) + b * d.strides[0] + h * d.strides[1], d.strides[2]};
}

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, BFloat16> ? DType::BFloat16 : DType::Float16;
}

// delta_r = sum_j dO_rj O_rj for rows [0, rows) of a slice's output and its gradient: the softmax
// gradient's correction per query.
template <typename T>
void output_deltas(Rows<T> out, Rows<T> grad_out, std::int64_t rows, std::int64_t cols,
                   float* delta) {
  thread_local std::vector<float> wide_out, wide_grad;
  wide_out.resize(cols), wide_grad.resize(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    convert_block(wide_out.data(), out.row(r), cols);
    convert_block(wide_grad.data(), grad_out.row(r), cols);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < cols; ++j) sum += wide_grad[j] * wide_out[j];
    delta[r] = sum;
  }
}

// s *= factor over n floats. The factor is a value: read through the Attention while storing
// floats, it could alias them, and the loop did not vectorise (a gpt forward spent longer in its
// scaling loops than in its products).
inline void scale_block(float* s, std::int64_t n, float factor) {
  for (std::int64_t i = 0; i < n; ++i) s[i] *= factor;
}

// s *= z elementwise over n floats.
inline void multiply_block(float* s, const float* z, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) s[i] *= z[i];
}

// Rounds float32 rows [rows, cols] (row stride cols) into to, or into their transpose.
template <typename T>
void round_block(const float* from, std::int64_t rows, std::int64_t cols, T* to, bool transposed) {
  if (!transposed) {
    convert_block(to, from, rows * cols);
    return;
  }
  thread_local std::vector<float> column;
  column.resize(rows);
  for (std::int64_t c = 0; c < cols; ++c) {
    for (std::int64_t r = 0; r < rows; ++r) column[r] = from[r * cols + c];
    convert_block(to + c * rows, column.data(), rows);
  }
}

// Slices of at most this many keys take the batched path: whole score matrices, several slices per
// product. Forward + backward, bf16, on a Xeon with AMX, against the tiles: 64 keys 0.23-0.34
// against 0.72-0.79 ms (8 x 4 heads of 32 features); 128 keys 1.22 against 1.60 ms (4 x 8 x 64),
// 256 keys 4.4 against 5.0 ms; from 512 keys the tiles were faster (512: 3.3 against 4.3-5.2 ms).
inline constexpr std::int64_t kMaxBatchedKeys = 256;

// Whether a's slices take the batched path: few enough keys, and a slice's scores within 4 MB
// (many queries against few keys would otherwise need unbounded buffers).
inline bool takes_batched_path(const Attention& a) {
  return a.k.sizes[2] <= kMaxBatchedKeys && a.q.sizes[2] * a.k.sizes[2] <= (1 << 20);
}

// The slices of takes_batched_path (attention_amx_batched.cpp).
void forward_batched(const Attention& a);
void backward_batched(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                      const TensorDesc& grad_k, const TensorDesc& grad_v);

}  // namespace mlu::kernels::attention_amx
