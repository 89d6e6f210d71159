// The attention kernels' shared pieces (attention_tiles.h): masks, dropout and the softmax over
// a block of float32 scores.
#include "attention_tiles.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "mlu_kernels/random.h"
#include "vec_math.h"

namespace mlu::kernels::attention_tiles {

MaskSlice mask_slice(const Attention& a, std::int64_t b, std::int64_t h) {
  const TensorDesc& m = a.mask;
  if (m.ndim == 0) return {};
  const auto size = static_cast<std::int64_t>(element_size(m.dtype));
  return {static_cast<const unsigned char*>(m.data) + (b * m.strides[0] + h * m.strides[1]) * size,
          m.dtype, m.strides[2] * size, m.strides[3] * size};
}

void mask_scores(const Attention& a, const MaskSlice& mask, std::int64_t q0, std::int64_t nq,
                 std::int64_t k0, std::int64_t nk, float* s) {
  if (mask.base != nullptr) {
    for (std::int64_t r = 0; r < nq; ++r) {
      float* sr = s + r * nk;
      if (mask.dtype == DType::Bool) {
        for (std::int64_t c = 0; c < nk; ++c) {
          if (!mask.at<bool>(q0 + r, k0 + c)) sr[c] = kNegInf;
        }
      } else {
        for (std::int64_t c = 0; c < nk; ++c) sr[c] += mask.at<float>(q0 + r, k0 + c);
      }
    }
  }
  if (!a.causal) return;
  for (std::int64_t r = 0; r < nq; ++r) {
    for (std::int64_t c = std::max<std::int64_t>(0, q0 + r - k0 + 1); c < nk; ++c)
      s[r * nk + c] = kNegInf;
  }
}

void dropout_factors(const Attention& a, std::int64_t b, std::int64_t h, std::int64_t q0,
                     std::int64_t nq, std::int64_t k0, std::int64_t nk, float* z) {
  const auto seed = std::array<std::uint32_t, 2>{static_cast<std::uint32_t>(a.rng.seed),
                                                 static_cast<std::uint32_t>(a.rng.seed >> 32)};
  const double threshold = (1.0 - a.dropout) * 4294967296.0;
  const float kept = 1.f / (1.f - a.dropout);
  const std::int64_t keys = a.k.sizes[2];
  const std::uint64_t first_row =
      (static_cast<std::uint64_t>(b) * a.q.sizes[1] + h) * static_cast<std::uint64_t>(a.q.sizes[2]);
  for (std::int64_t r = 0; r < nq; ++r) {
    const std::uint64_t row = (first_row + q0 + r) * static_cast<std::uint64_t>(keys) + k0;
    std::uint64_t block = ~std::uint64_t{0};
    std::array<std::uint32_t, 4> words{};
    for (std::int64_t c = 0; c < nk; ++c) {
      const std::uint64_t word = row + c;
      if (word / 4 != block) {
        block = word / 4;
        const std::uint64_t counter = a.rng.offset + block;
        words = philox4x32(
            {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0, 0},
            seed);
      }
      z[r * nk + c] = static_cast<double>(words[word % 4]) < threshold ? kept : 0.f;
    }
  }
}

std::int64_t key_end(const Attention& a, std::int64_t q0, std::int64_t nq) {
  const std::int64_t keys = a.k.sizes[2];
  return a.causal ? std::min(keys, q0 + nq) : keys;
}

void softmax_block(std::int64_t nq, std::int64_t nk, std::int64_t ev, float* s, float* row_max,
                   float* row_sum, float* acc) {
  for (std::int64_t r = 0; r < nq; ++r) {
    float* sr = s + r * nk;
    // The reductions vectorise only as OpenMP reductions (reordering a float sum), and the
    // maximum only as a comparison (GCC 14 keeps std::max scalar), which skips NaN scores: a
    // NaN among finite scores makes the row NaN through its exp.
    float block_max = kNegInf;
#pragma omp simd reduction(max : block_max)
    for (std::int64_t c = 0; c < nk; ++c) block_max = sr[c] > block_max ? sr[c] : block_max;
    const float new_max = std::max(row_max[r], block_max);
    if (new_max == kNegInf) {  // every key so far is masked for this row, or NaN
      const bool nan = std::any_of(sr, sr + nk, [](float x) { return x != x; });
      constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
      std::fill(sr, sr + nk, nan ? kNaN : 0.f);
      if (nan) row_sum[r] = kNaN;
      continue;
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t c = 0; c < nk; ++c) {
      sr[c] = exp_nonpositive(sr[c] - new_max);
      sum += sr[c];
    }
    const float rescale = exp_nonpositive(row_max[r] - new_max);
    row_sum[r] = row_sum[r] * rescale + sum;
    for (std::int64_t j = 0; j < ev; ++j) acc[r * ev + j] *= rescale;
    row_max[r] = new_max;
  }
}

// A sum of 0: every key masked, the row is 0; a NaN sum stays NaN.
float row_inverse(float sum) { return sum > 0 ? 1.f / sum : (sum == 0 ? 0.f : sum); }

float row_logsumexp(float max, float sum) {
  return sum > 0 ? max + std::log(sum) : (sum == 0 ? kNegInf : sum);
}

void weights_from_logsumexp(const float* lse, std::int64_t nq, std::int64_t nk, float* s) {
  for (std::int64_t r = 0; r < nq; ++r) {
    float* sr = s + r * nk;
    const float row_lse = lse[r];
    if (row_lse == kNegInf) {  // every key masked for this query
      std::fill(sr, sr + nk, 0.f);
      continue;
    }
    // A score is at most its row's logsumexp (but for rounding, which the clamp absorbs), so
    // the exponential that vectorises serves (exp_float kept a 64 x 64 slice 12 us).
#pragma omp simd
    for (std::int64_t c = 0; c < nk; ++c) {
      const float x = sr[c] - row_lse;
      sr[c] = exp_nonpositive(x > 0 ? 0.f : x);
    }
  }
}

void softmax_gradient(const float* p, const float* delta, std::int64_t nq, std::int64_t nk,
                      float* dp) {
  for (std::int64_t r = 0; r < nq; ++r) {
#pragma omp simd
    for (std::int64_t c = 0; c < nk; ++c)
      dp[r * nk + c] = p[r * nk + c] * (dp[r * nk + c] - delta[r]);
  }
}

}  // namespace mlu::kernels::attention_tiles
