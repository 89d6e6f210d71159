// Random number kernels: the implementation of mlu/ops/random.h's operations.
#pragma once

#include <array>
#include <cstdint>

#include "mlu/ops/random.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The Philox4x32-10 block function (exposed for its known-answer test).
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter,
                                        std::array<std::uint32_t, 2> key);

// The blocks of the kPhiloxBatch consecutive counters {first + l, 0} (64-bit, high words zero),
// one after another in words, as philox4x32 computes them one at a time, but lane by lane so the
// compiler vectorises the rounds.
inline constexpr int kPhiloxBatch = 16;
void philox4x32_batch(std::uint64_t first, std::array<std::uint32_t, 2> key,
                      std::array<std::uint32_t, 4 * kPhiloxBatch>& words);

void uniform(const TensorDesc& out, PhiloxState state, double from, double to);
void normal(const TensorDesc& out, PhiloxState state, double mean, double std);
void exponential(const TensorDesc& out, PhiloxState state, double lambda);

void random_integers(const TensorDesc& out, PhiloxState state, std::int64_t from,
                     std::uint64_t range);

void bernoulli(const TensorDesc& out, PhiloxState state, double p);
// A p outside [0, 1] throws KernelError.
void bernoulli(const TensorDesc& out, PhiloxState state, const TensorDesc& p);

void dropout(const TensorDesc& out, const TensorDesc& mask, const TensorDesc& in, PhiloxState state,
             double p);
void masked_scale(const TensorDesc& out, const TensorDesc& in, const TensorDesc& mask,
                  double scale);

void randperm(const TensorDesc& out, PhiloxState state);

// Invalid rows throw KernelError, worded as PyTorch's CPU kernel words it.
void sample_categories(const TensorDesc& out, const TensorDesc& probs, const TensorDesc& uniforms);

}  // namespace mlu::kernels
