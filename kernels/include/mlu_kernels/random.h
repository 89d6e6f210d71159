// Random number kernels on the Philox4x32-10 counter (mlu/ops/random.h describes how elements
// take the counter's values): the numbers depend only on (seed, offset) and each element's
// row-major position.
#pragma once

#include <array>
#include <cstdint>

#include "mlu/ops/random.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The Philox4x32-10 block function (exposed for its known-answer test).
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter,
                                        std::array<std::uint32_t, 2> key);

// Floating outputs unless stated; float16 and bfloat16 compute in float32.
void uniform(const TensorDesc& out, PhiloxState state, double from, double to);  // [from, to)
void normal(const TensorDesc& out, PhiloxState state, double mean, double std);
void exponential(const TensorDesc& out, PhiloxState state, double lambda);

// Any dtype: from + r % range, r uniform on 64 bits (on 32 when range < 2^32), converted to the
// output dtype; range 0 stands for 2^64.
void random_integers(const TensorDesc& out, PhiloxState state, std::int64_t from,
                     std::uint64_t range);

// Any output dtype: 1 with probability p, else 0.
void bernoulli(const TensorDesc& out, PhiloxState state, double p);
// p is floating with out's shape (broadcast with zero strides); a p outside [0, 1] throws.
void bernoulli(const TensorDesc& out, PhiloxState state, const TensorDesc& p);

// Keeps each element with probability 1 - p: mask (bool) records which, out = in * scale where
// kept and 0 elsewhere, scale = 1 / (1 - p) (0 when p is 1).
void dropout(const TensorDesc& out, const TensorDesc& mask, const TensorDesc& in, PhiloxState state,
             double p);
// out = mask ? in * scale : 0 (dropout's gradient); mask is bool.
void masked_scale(const TensorDesc& out, const TensorDesc& in, const TensorDesc& mask,
                  double scale);

// out (1-D, n elements of any dtype that holds n - 1) = a uniformly random permutation of
// 0..n-1, by Fisher-Yates, swap i taking 64 bits as element i.
void randperm(const TensorDesc& out, PhiloxState state);

// Sampling with replacement from the rows of probs (mlu/ops/random.h: SampleCategories); invalid
// rows throw as PyTorch's CPU kernel words it.
void sample_categories(const TensorDesc& out, const TensorDesc& probs, const TensorDesc& uniforms);

}  // namespace mlu::kernels
