// Random numbers from a counter-based generator (Philox4x32-10, as cuRAND and PyTorch CUDA use).
// A block (four 32-bit words, counter offset + b under key seed) serves k consecutive elements:
// four for 32-bit draws (float precision, Bernoulli, small integer ranges), two for 64-bit ones.
// Element i (its row-major position, whatever the strides) takes slot i % k of block i / k, so an
// operation over n elements uses at most n counter values, and the numbers depend only on
// (seed, offset) and the element's position.
#pragma once

#include <cstdint>
#include <memory>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

struct PhiloxState {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

// The range of the generator's counter an operation draws from: absolute, or, in a captured
// graph, relative to the base each replay sets before the graph's work runs. Resolved where the
// operation runs, so that every replay draws anew.
struct RandomRange {
  PhiloxState state;
  std::shared_ptr<const PhiloxState> replay_base;  // null: state is absolute

  PhiloxState resolve() const {
    if (!replay_base) return state;
    return {replay_base->seed, replay_base->offset + state.offset};
  }
};

// Floating outputs unless stated; float16 and bfloat16 compute in float32.
struct Uniform {  // [from, to)
  static constexpr const char* name = "uniform_";
  TensorDesc out;
  RandomRange philox;
  double from, to;
};
struct Normal {
  static constexpr const char* name = "normal_";
  TensorDesc out;
  RandomRange philox;
  double mean, std;
};
struct Exponential {
  static constexpr const char* name = "exponential_";
  TensorDesc out;
  RandomRange philox;
  double lambda;
};

// Any dtype: from + r % range, r uniform on 64 bits (on 32 when range < 2^32), converted to the
// output dtype; range 0 stands for 2^64.
struct RandomIntegers {
  static constexpr const char* name = "random_";
  TensorDesc out;
  RandomRange philox;
  std::int64_t from;
  std::uint64_t range;
};

// Any output dtype: 1 with probability p, else 0.
struct Bernoulli {
  static constexpr const char* name = "bernoulli_";
  TensorDesc out;
  RandomRange philox;
  double p;
};
// p is floating with out's shape (broadcast with zero strides); a p outside [0, 1] is an error.
struct BernoulliTensor {
  static constexpr const char* name = "bernoulli_";
  TensorDesc out;
  RandomRange philox;
  TensorDesc p;
};

// Keeps each element with probability 1 - p: mask (bool) records which, out = in * scale where
// kept and 0 elsewhere, scale = 1 / (1 - p) (0 when p is 1).
struct Dropout {
  static constexpr const char* name = "native_dropout";
  TensorDesc out, mask, in;
  RandomRange philox;
  double p;
};
// out = mask ? in * scale : 0 (dropout's gradient); mask is bool.
struct MaskedScale {
  static constexpr const char* name = "native_dropout_backward";
  TensorDesc out, in, mask;
  double scale;
};

// out (1-D, n elements of any dtype that holds n - 1) = a uniformly random permutation of
// 0..n-1, by Fisher-Yates, swap i taking 64 bits as element i.
struct Randperm {
  static constexpr const char* name = "randperm";
  TensorDesc out;
  RandomRange philox;
};

// Sampling with replacement from the rows of probs (non-negative, finite weights; any positive
// sum): out[r][j] is the category whose cumulative weight first exceeds uniforms[r][j] (float64
// in [0, 1)) times the row's sum. Invalid rows are errors worded as PyTorch's CPU kernel words
// them.
struct SampleCategories {
  static constexpr const char* name = "multinomial";
  TensorDesc out, probs, uniforms;
};

void enqueue(Queue* queue, const Uniform& op);
void enqueue(Queue* queue, const Normal& op);
void enqueue(Queue* queue, const Exponential& op);
void enqueue(Queue* queue, const RandomIntegers& op);
void enqueue(Queue* queue, const Bernoulli& op);
void enqueue(Queue* queue, const BernoulliTensor& op);
void enqueue(Queue* queue, const Dropout& op);
void enqueue(Queue* queue, const MaskedScale& op);
void enqueue(Queue* queue, const Randperm& op);
void enqueue(Queue* queue, const SampleCategories& op);

}  // namespace mlu::hal
