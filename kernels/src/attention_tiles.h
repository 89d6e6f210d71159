// What the attention kernels' float32 tiles and their 16-bit (AMX) tiles share: the blocking,
// masks, dropout and the online softmax, applied to a block of float32 scores.
#pragma once

#include <cstdint>
#include <limits>

#include "mlu_kernels/attention.h"

namespace mlu::kernels::attention_tiles {

inline constexpr std::int64_t kBlockQ = 64;
inline constexpr std::int64_t kBlockK = 64;
inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The mask of one (batch, head) slice, or none.
struct MaskSlice {
  const unsigned char* base = nullptr;  // element (b, h, 0, 0)
  DType dtype = DType::Bool;
  std::int64_t row_stride = 0, col_stride = 0;  // in bytes

  template <typename T>
  T at(std::int64_t query, std::int64_t key) const {
    return *reinterpret_cast<const T*>(base + query * row_stride + key * col_stride);
  }
};

MaskSlice mask_slice(const Attention& a, std::int64_t b, std::int64_t h);

// Applies the mask and causality to scaled scores s [nq, nk] of queries q0.. against keys k0...
void mask_scores(const Attention& a, const MaskSlice& mask, std::int64_t q0, std::int64_t nq,
                 std::int64_t k0, std::int64_t nk, float* s);

// The dropout factors of a query block against a key block: 1 / (1 - dropout) where a weight is
// kept, 0 where it is dropped.
void dropout_factors(const Attention& a, std::int64_t b, std::int64_t h, std::int64_t q0,
                     std::int64_t nq, std::int64_t k0, std::int64_t nk, float* z);

// The last key a query block can see, exclusive.
std::int64_t key_end(const Attention& a, std::int64_t q0, std::int64_t nq);

// One key block of the online softmax: turns the scores s [nq, nk] into exp(s - running max),
// updating each row's running max and sum and rescaling its accumulated output acc [nq, ev].
void softmax_block(std::int64_t nq, std::int64_t nk, std::int64_t ev, float* s, float* row_max,
                   float* row_sum, float* acc);

// A finished row's normaliser (1 / sum; 0 for a row that saw no key) and logsumexp.
float row_inverse(float sum);
float row_logsumexp(float max, float sum);

// The softmax weights of scores s [nq, nk] from the forward's logsumexp of each query row.
void weights_from_logsumexp(const float* lse, std::int64_t nq, std::int64_t nk, float* s);

// The softmax gradient over a block, dS = P (dP - delta) with delta_i = sum_j dO_ij O_ij per query
// row: dp [nq, nk] becomes dS.
void softmax_gradient(const float* p, const float* delta, std::int64_t nq, std::int64_t nk,
                      float* dp);

}  // namespace mlu::kernels::attention_tiles
