#include "mlu_kernels/random.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "element_loop.h"
#include "scalar_types.h"
#include "strided_loop.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace {

constexpr double kTwoPi = 6.283185307179586476925;
constexpr double kTwoTo32 = 4294967296.0;

using Words = std::array<std::uint32_t, 4>;

std::uint64_t bits64(std::uint32_t lo, std::uint32_t hi) {
  return static_cast<std::uint64_t>(hi) << 32 | lo;
}

// The Philox blocks of a kernel drawing PerBlock elements from each: element i takes slot
// i % PerBlock of the block at counter offset + i / PerBlock. Elements drawn in increasing order
// up to run_end (one past the last) get their blocks a batch at a time; the blocks of a short run,
// or of draws in another order (run_end 0), are computed one by one.
template <int PerBlock>
class Draws {
 public:
  Draws(PhiloxState state, std::int64_t run_end) : state_(state), run_end_(run_end) {}

  // The four words of element i's block.
  const std::uint32_t* block_of(std::int64_t i) {
    const std::uint64_t block = static_cast<std::uint64_t>(i) / PerBlock;
    if (!cached_ || block - first_ >= count_) {
      const std::int64_t blocks_left = (run_end_ + PerBlock - 1) / PerBlock - i / PerBlock;
      first_ = block;
      cached_ = true;
      if (blocks_left >= kPhiloxBatch / 2) {
        philox4x32_batch(state_.offset + block, key(), words_);
        count_ = kPhiloxBatch;
      } else {
        const std::uint64_t counter = state_.offset + block;
        const Words words = philox4x32(
            {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0, 0},
            key());
        std::copy(words.begin(), words.end(), words_.begin());
        count_ = 1;
      }
    }
    return words_.data() + 4 * (block - first_);
  }
  // With one word per element: element i's word and how many of the next elements' words follow
  // it in memory.
  std::pair<const std::uint32_t*, std::int64_t> words_from(std::int64_t i)
    requires(PerBlock == 4)
  {
    const std::uint32_t* word = block_of(i) + slot_of(i);
    return {word, words_.data() + 4 * count_ - word};
  }
  static int slot_of(std::int64_t i) { return static_cast<int>(i % PerBlock); }

 private:
  std::array<std::uint32_t, 2> key() const {
    return {static_cast<std::uint32_t>(state_.seed), static_cast<std::uint32_t>(state_.seed >> 32)};
  }

  PhiloxState state_;
  std::int64_t run_end_;
  std::array<std::uint32_t, 4 * kPhiloxBatch> words_{};
  std::uint64_t first_ = 0, count_ = 0;
  bool cached_ = false;
};

// Calls element(words, slot, i, pointers) for every element i of the operands (same shape). Each
// run works on its own copy of element, which may keep state from one element to the next.
template <int PerBlock, int N, typename Element>
void draw(const std::array<const TensorDesc*, N>& operands, PhiloxState state,
          const Element& element) {
  for_each_run<N>(operands, [&](std::int64_t first, const std::array<char*, N>& p,
                                const std::array<std::int64_t, N>& s, std::int64_t n) {
    Draws<PerBlock> draws(state, first + n);
    Element local = element;
    for (std::int64_t j = 0; j < n; ++j) {
      std::array<char*, N> at;
      for (int k = 0; k < N; ++k) at[k] = p[k] + j * s[k];
      local(draws.block_of(first + j), Draws<PerBlock>::slot_of(first + j), first + j, at);
    }
  });
}

// Uniform numbers with the precision of C: four 24-bit floats or two 53-bit doubles per block.
template <typename C>
struct Uniforms {
  static constexpr int kPerBlock = std::is_same_v<C, double> ? 2 : 4;
  static C bits(const std::uint32_t* w, int slot) {
    if constexpr (kPerBlock == 2)
      return static_cast<C>(bits64(w[2 * slot], w[2 * slot + 1]) >> 11);
    else
      return static_cast<C>(w[slot] >> 8);
  }
  static constexpr C kScale = kPerBlock == 2 ? C(0x1p-53) : C(0x1p-24);
  // In [0, 1).
  static C unit(const std::uint32_t* w, int slot) { return bits(w, slot) * kScale; }
  // In (0, 1].
  static C open_below(const std::uint32_t* w, int slot) { return (bits(w, slot) + 1) * kScale; }
};

// out[i] = value(words, slot) for floating outputs, computed in C.
template <typename Value>
void generate_floating(const char* kernel, const TensorDesc& out, PhiloxState state, Value value) {
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!kFloatingStorage<T>) {
      throw KernelError(std::string(kernel) + ": expected a floating-point output, got " +
                        dtype_name(out.dtype));
    } else {
      using C = ComputeType<T>;
      draw<Uniforms<C>::kPerBlock, 1>(
          {&out}, state,
          [&](const std::uint32_t* w, int slot, std::int64_t, const std::array<char*, 1>& at) {
            *reinterpret_cast<T*>(at[0]) = value.template operator()<T, C>(w, slot);
          });
    }
  });
}

// Bernoulli draws compare a 32-bit word with p scaled to 2^32: four per block, exact for p = 0, 1.
bool below(std::uint32_t word, double probability) {
  return static_cast<double>(word) < probability * kTwoTo32;
}

}  // namespace

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> c,
                                        std::array<std::uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
    const std::uint64_t p0 = std::uint64_t{0xD2511F53u} * c[0];
    const std::uint64_t p1 = std::uint64_t{0xCD9E8D57u} * c[2];
    c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ key[0], static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ key[1], static_cast<std::uint32_t>(p0)};
  }
  return c;
}

void philox4x32_batch(std::uint64_t first, std::array<std::uint32_t, 2> key,
                      std::array<std::uint32_t, 4 * kPhiloxBatch>& words) {
  // 32-bit words kept in 64-bit lanes: the masked products are 32 x 32 -> 64-bit vector multiplies
  // (GCC left 32-bit lanes scalar).
  constexpr std::uint64_t kLow = 0xFFFFFFFFu;
  alignas(64) std::uint64_t c0[kPhiloxBatch], c1[kPhiloxBatch], c2[kPhiloxBatch], c3[kPhiloxBatch];
  for (int l = 0; l < kPhiloxBatch; ++l) {
    const std::uint64_t counter = first + static_cast<std::uint64_t>(l);
    c0[l] = counter & kLow;
    c1[l] = counter >> 32;
    c2[l] = c3[l] = 0;
  }
  std::uint64_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 = (k0 + 0x9E3779B9u) & kLow;
      k1 = (k1 + 0xBB67AE85u) & kLow;
    }
#pragma omp simd
    for (int l = 0; l < kPhiloxBatch; ++l) {
      const std::uint64_t p0 = (c0[l] & kLow) * 0xD2511F53u;
      const std::uint64_t p1 = (c2[l] & kLow) * 0xCD9E8D57u;
      c0[l] = (p1 >> 32) ^ c1[l] ^ k0;
      c1[l] = p1 & kLow;
      c2[l] = (p0 >> 32) ^ c3[l] ^ k1;
      c3[l] = p0 & kLow;
    }
  }
  for (int l = 0; l < kPhiloxBatch; ++l) {
    words[4 * l] = static_cast<std::uint32_t>(c0[l]);
    words[4 * l + 1] = static_cast<std::uint32_t>(c1[l]);
    words[4 * l + 2] = static_cast<std::uint32_t>(c2[l]);
    words[4 * l + 3] = static_cast<std::uint32_t>(c3[l]);
  }
}

void uniform(const TensorDesc& out, PhiloxState state, double from, double to) {
  generate_floating(
      "uniform", out, state, [from, to]<typename T, typename C>(const std::uint32_t* w, int slot) {
        const T value = convert<T>(Uniforms<C>::unit(w, slot) * C(to - from) + C(from));
        // Rounding may reach `to`; the interval is half-open, as PyTorch's CUDA kernel keeps it.
        return convert<C>(value) == convert<C>(convert<T>(C(to))) ? convert<T>(C(from)) : value;
      });
}

// The two normals (cosine, sine) of the Box-Muller pair whose uniforms are slots first and
// first + 1 of w. Float uses the vectorisable log and sincos of vec_math.h.
template <typename C>
[[gnu::always_inline]] inline std::array<C, 2> box_muller(const std::uint32_t* w, int first, C mean,
                                                          C std) {
  const C u1 = Uniforms<C>::open_below(w, first), u2 = Uniforms<C>::unit(w, first + 1);
  if constexpr (std::is_same_v<C, float>) {
    const float radius = std::sqrt(-2.0f * log_float(u1));
    float sine, cosine;
    sincos_turns(u2, sine, cosine);
    return {mean + std * (radius * cosine), mean + std * (radius * sine)};
  } else {
    const C radius = std::sqrt(C(-2) * std::log(u1));
    const C angle = C(kTwoPi) * u2;
    return {mean + std * (radius * std::cos(angle)), mean + std * (radius * std::sin(angle))};
  }
}

// Float draws (four 32-bit words a block, two pairs): a run's words are read as a span, pair by
// pair, in a loop the compiler vectorises when the run is contiguous (1M normals: 0.85 ms against
// 5.3 ms a pair at a time with the C library's functions). Element e is the cosine (e even) or the
// sine of the pair in words 2 * (e / 2) and 2 * (e / 2) + 1.
template <typename T>
void normal_float(const TensorDesc& out, PhiloxState state, float mean, float std) {
  for_each_run<1>({&out}, [&](std::int64_t first, const std::array<char*, 1>& p,
                              const std::array<std::int64_t, 1>& s, std::int64_t n) {
    Draws<4> draws(state, first + n);
    const float m = mean, sd = std;  // locals, which the stores cannot alias
    auto at = [&](std::int64_t j) -> T& { return *reinterpret_cast<T*>(p[0] + j * s[0]); };
    for (std::int64_t j = 0; j < n;) {
      const auto [words, available] = draws.words_from(first + j);
      const std::int64_t count = std::min(available, n - j);
      std::int64_t k = 0;
      if ((first + j) % 2 == 1) {  // the sine of a pair that starts before this span
        at(j) = convert<T>(box_muller<float>(words - 1, 0, m, sd)[1]);
        k = 1;
      }
      if (s[0] == sizeof(T)) {
        T* __restrict o = &at(j);
        for (; k + 1 < count; k += 2) {
          const std::array<float, 2> z = box_muller<float>(words + k, 0, m, sd);
          o[k] = convert<T>(z[0]);
          o[k + 1] = convert<T>(z[1]);
        }
      } else {
        for (; k + 1 < count; k += 2) {
          const std::array<float, 2> z = box_muller<float>(words + k, 0, m, sd);
          at(j + k) = convert<T>(z[0]);
          at(j + k + 1) = convert<T>(z[1]);
        }
      }
      if (k < count) at(j + k) = convert<T>(box_muller<float>(words + k, 0, m, sd)[0]);
      j += count;
    }
  });
}

void normal(const TensorDesc& out, PhiloxState state, double mean, double std) {
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!kFloatingStorage<T>) {
      throw KernelError(std::string("normal: expected a floating-point output, got ") +
                        dtype_name(out.dtype));
    } else if constexpr (std::is_same_v<ComputeType<T>, float>) {
      normal_float<T>(out, state, static_cast<float>(mean), static_cast<float>(std));
    } else {
      using C = ComputeType<T>;
      // A pair of uniforms gives the normals of elements 2k (cosine) and 2k + 1 (sine), computed
      // together when the run reaches the pair.
      struct Pairs {
        C mean, std;
        std::int64_t pair = -1;
        std::array<C, 2> z{};
        void operator()(const std::uint32_t* w, int slot, std::int64_t i,
                        const std::array<char*, 1>& at) {
          if (i / 2 != pair) {
            pair = i / 2;
            z = box_muller<C>(w, slot / 2 * 2, mean, std);
          }
          *reinterpret_cast<T*>(at[0]) = convert<T>(z[slot % 2]);
        }
      };
      draw<Uniforms<C>::kPerBlock, 1>({&out}, state, Pairs{C(mean), C(std)});
    }
  });
}

void exponential(const TensorDesc& out, PhiloxState state, double lambda) {
  generate_floating("exponential", out, state,
                    [lambda]<typename T, typename C>(const std::uint32_t* w, int slot) {
                      return convert<T>(-std::log(Uniforms<C>::open_below(w, slot)) / C(lambda));
                    });
}

void random_integers(const TensorDesc& out, PhiloxState state, std::int64_t from,
                     std::uint64_t range) {
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    auto store = [from](char* at, std::uint64_t r) {
      *reinterpret_cast<T*>(at) =
          convert<T>(static_cast<std::int64_t>(static_cast<std::uint64_t>(from) + r));
    };
    if (range != 0 && range <= (std::uint64_t{1} << 32)) {  // 32 bits per element
      draw<4, 1>({&out}, state,
                 [&](const std::uint32_t* w, int slot, std::int64_t,
                     const std::array<char*, 1>& at) { store(at[0], w[slot] % range); });
    } else {
      draw<2, 1>(
          {&out}, state,
          [&](const std::uint32_t* w, int slot, std::int64_t, const std::array<char*, 1>& at) {
            const std::uint64_t r = bits64(w[2 * slot], w[2 * slot + 1]);
            store(at[0], range == 0 ? r : r % range);
          });
    }
  });
}

void bernoulli(const TensorDesc& out, PhiloxState state, double p) {
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    draw<4, 1>({&out}, state,
               [p](const std::uint32_t* w, int slot, std::int64_t, const std::array<char*, 1>& at) {
                 *reinterpret_cast<T*>(at[0]) = convert<T>(below(w[slot], p));
               });
  });
}

void bernoulli(const TensorDesc& out, PhiloxState state, const TensorDesc& p) {
  check_same_shape(out, p, "bernoulli");
  visit_dtype(p.dtype, [&](auto prob) {
    using P = decltype(prob);
    if constexpr (!kFloatingStorage<P>) {
      throw KernelError(std::string("bernoulli: expected a floating-point p, got ") +
                        dtype_name(p.dtype));
    } else {
      visit_dtype(out.dtype, [&](auto t) {
        using T = decltype(t);
        draw<4, 2>(
            {&out, &p}, state,
            [](const std::uint32_t* w, int slot, std::int64_t, const std::array<char*, 2>& at) {
              const double probability = convert<double>(*reinterpret_cast<const P*>(at[1]));
              if (!(probability >= 0 && probability <= 1)) {
                throw KernelError("bernoulli: p must be in [0, 1], got " +
                                  std::to_string(probability));
              }
              *reinterpret_cast<T*>(at[0]) = convert<T>(below(w[slot], probability));
            });
      });
    }
  });
}

void dropout(const TensorDesc& out, const TensorDesc& mask, const TensorDesc& in, PhiloxState state,
             double p) {
  check_same_shape(out, mask, "dropout");
  check_same_shape(out, in, "dropout");
  if (mask.dtype != DType::Bool || out.dtype != in.dtype) {
    throw KernelError("dropout: mask must be bool and out share in's dtype");
  }
  const double keep = 1 - p;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    using C = ComputeType<T>;
    const C scale = keep == 0 ? C(0) : C(1 / keep);
    // A word is kept when below keep * 2^32 (below()), that is below its ceiling as an integer.
    // The value is in * mask * scale, as PyTorch computes it (a dropped NaN or infinity gives
    // NaN), without a branch: one on random bits is mispredicted half the time.
    const auto threshold = static_cast<std::uint64_t>(std::ceil(keep * kTwoTo32));
    for_each_run<3>({&out, &mask, &in}, [&](std::int64_t first, const std::array<char*, 3>& p,
                                            const std::array<std::int64_t, 3>& s, std::int64_t n) {
      Draws<4> draws(state, first + n);
      const std::uint64_t limit = threshold;  // locals, which the stores below cannot alias
      const C factor = scale;
      const bool contiguous = s[0] == sizeof(T) && s[1] == sizeof(bool) && s[2] == sizeof(T);
      for (std::int64_t j = 0; j < n;) {
        const auto [words, available] = draws.words_from(first + j);
        const std::int64_t count = std::min(available, n - j);
        if (contiguous) {
          T* __restrict o = reinterpret_cast<T*>(p[0]) + j;
          bool* __restrict m = reinterpret_cast<bool*>(p[1]) + j;
          const T* __restrict x = reinterpret_cast<const T*>(p[2]) + j;
#pragma omp simd
          for (std::int64_t k = 0; k < count; ++k) {
            const bool kept = words[k] < limit;
            m[k] = kept;
            o[k] = convert<T>(convert<C>(x[k]) * (kept ? factor : C(0)));
          }
        } else {
          for (std::int64_t k = 0; k < count; ++k) {
            const bool kept = words[k] < limit;
            const C x = convert<C>(*reinterpret_cast<const T*>(p[2] + (j + k) * s[2]));
            *reinterpret_cast<bool*>(p[1] + (j + k) * s[1]) = kept;
            *reinterpret_cast<T*>(p[0] + (j + k) * s[0]) = convert<T>(x * (kept ? factor : C(0)));
          }
        }
        j += count;
      }
    });
  });
}

void masked_scale(const TensorDesc& out, const TensorDesc& in, const TensorDesc& mask,
                  double scale_value) {
  check_same_shape(out, in, "masked_scale");
  check_same_shape(out, mask, "masked_scale");
  if (mask.dtype != DType::Bool || out.dtype != in.dtype) {
    throw KernelError("masked_scale: mask must be bool and out share in's dtype");
  }
  if (out.numel() == 0) return;
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    using C = ComputeType<T>;
    const C scale = static_cast<C>(scale_value);
    // in * mask * scale as PyTorch computes it: a dropped NaN or infinity gives NaN. (A select
    // on the mask instead of its product kept the loop scalar.)
    auto value = [scale](T x, bool kept) {
      return convert<T>(convert<C>(x) * static_cast<C>(kept) * scale);
    };
    for_each_row<3>({&out, &in, &mask}, [&](auto p, auto s, std::int64_t n) {
      if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(bool)) {
        // Contiguous rows as typed arrays, so that the loop vectorises (1M floats: 1.17 ms
        // element by element, 0.31 ms so).
        T* o = reinterpret_cast<T*>(p[0]);
        const T* x = reinterpret_cast<const T*>(p[1]);
        const bool* m = reinterpret_cast<const bool*>(p[2]);
        for (std::int64_t i = 0; i < n; ++i) o[i] = value(x[i], m[i]);
        return;
      }
      for (std::int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            value(*reinterpret_cast<const T*>(p[1] + i * s[1]),
                  *reinterpret_cast<const bool*>(p[2] + i * s[2]));
      }
    });
  });
}

void randperm(const TensorDesc& out, PhiloxState state) {
  if (out.ndim != 1) throw KernelError("randperm: out must be 1-D");
  const std::int64_t n = out.sizes[0];
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    // Positions are swapped as int64 and stored once: every dtype that holds n - 1 works.
    std::vector<std::int64_t> perm(n);
    for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
    Draws<2> draws(state, 0);  // 64 bits per swap, drawn downwards
    for (std::int64_t i = n - 1; i > 0; --i) {
      const std::uint32_t* w = draws.block_of(i);
      const int slot = Draws<2>::slot_of(i);
      std::swap(perm[i],
                perm[bits64(w[2 * slot], w[2 * slot + 1]) % static_cast<std::uint64_t>(i + 1)]);
    }
    char* data = static_cast<char*>(out.data);
    const std::int64_t stride = out.strides[0] * static_cast<std::int64_t>(sizeof(T));
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<T*>(data + i * stride) = convert<T>(perm[i]);
  });
}

void sample_categories(const TensorDesc& out, const TensorDesc& probs, const TensorDesc& uniforms) {
  if (out.dtype != DType::Int64 || out.ndim != 2 || probs.ndim != 2 || uniforms.ndim != 2 ||
      uniforms.sizes[0] != out.sizes[0] || uniforms.sizes[1] != out.sizes[1] ||
      probs.sizes[0] != out.sizes[0] || uniforms.dtype != DType::Float64) {
    throw KernelError(
        "sample_categories: expected int64 out [rows, n], probs [rows, categories], float64 "
        "uniforms");
  }
  const std::int64_t rows = out.sizes[0], samples = out.sizes[1], categories = probs.sizes[1];
  visit_dtype(probs.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!kFloatingStorage<T>) {
      throw KernelError("multinomial only supports floating-point dtypes for input");
    } else {
      std::vector<double> cdf(categories);
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* p = static_cast<const T*>(probs.data) + r * probs.strides[0];
        double total = 0;
        std::int64_t last_positive = 0;
        for (std::int64_t c = 0; c < categories; ++c) {
          const double value = convert<double>(p[c * probs.strides[1]]);
          if (!std::isfinite(value))
            throw KernelError(
                "invalid multinomial distribution (encountering probability entry = infinity or "
                "NaN)");
          if (value < 0)
            throw KernelError(
                "invalid multinomial distribution (encountering probability entry < 0)");
          if (value > 0) last_positive = c;
          cdf[c] = total += value;
        }
        if (total <= 0)
          throw KernelError("invalid multinomial distribution (sum of probabilities <= 0)");
        const double* u = static_cast<const double*>(uniforms.data) + r * uniforms.strides[0];
        auto* o = static_cast<std::int64_t*>(out.data) + r * out.strides[0];
        for (std::int64_t j = 0; j < samples; ++j) {
          // The first category whose cumulative sum exceeds the draw: zero-probability ones never
          // are; rounding at the top end falls back to the last possible category.
          const double target = u[j * uniforms.strides[1]] * total;
          const std::int64_t c = std::upper_bound(cdf.begin(), cdf.end(), target) - cdf.begin();
          o[j * out.strides[1]] = std::min(c, last_positive);
        }
      }
    }
  });
}

}  // namespace mlu::kernels
