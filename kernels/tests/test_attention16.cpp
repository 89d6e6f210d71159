// bfloat16 attention, forward and backward, against a float64 reference computed from the same
// bfloat16 values, on whatever path this CPU takes (with AMX: whole slices batched up to 256 keys,
// tile by tile beyond; without: the widened float32 tiles). Causal, with the keys read through
// the strides of a [batch, tokens, heads, features] layout, as a fused qkv projection leaves them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "mlu_kernels/attention.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

struct Shape {
  std::int64_t batch, heads, queries, keys, features;
};

// A [batch, heads, rows, features] operand of random bfloat16 values, stored head-major or, when
// interleaved, as [batch, rows, heads, features].
struct Operand {
  Operand(const Shape& s, std::int64_t rows, bool interleaved, unsigned seed)
      : values(s.batch * s.heads * rows * s.features) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (auto& x : values) x = to_bfloat16(dist(gen));
    desc.dtype = DType::BFloat16;
    desc.ndim = 4;
    desc.sizes = {s.batch, s.heads, rows, s.features};
    desc.strides = interleaved
                       ? std::array<std::int64_t, kMaxDims>{rows * s.heads * s.features, s.features,
                                                            s.heads * s.features, 1}
                       : std::array<std::int64_t, kMaxDims>{s.heads * rows * s.features,
                                                            rows * s.features, s.features, 1};
    desc.data = values.data();
  }
  double at(std::int64_t b, std::int64_t h, std::int64_t r, std::int64_t f) const {
    return to_float(values[b * desc.strides[0] + h * desc.strides[1] + r * desc.strides[2] + f]);
  }
  std::vector<BFloat16> values;
  TensorDesc desc;
};

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;  // [b][h][row][feature] (lse: [b][h][row])
};

Reference reference(const Shape& s, const Operand& q, const Operand& k, const Operand& v,
                    const Operand& dout, double scale) {
  const std::int64_t Q = s.queries, K = s.keys, E = s.features;
  Reference ref{std::vector<double>(s.batch * s.heads * Q * E),
                std::vector<double>(s.batch * s.heads * Q),
                std::vector<double>(s.batch * s.heads * Q * E),
                std::vector<double>(s.batch * s.heads * K * E),
                std::vector<double>(s.batch * s.heads * K * E)};
  std::vector<double> p(Q * K), dp(Q * K);
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t slice = b * s.heads + h;
      for (std::int64_t i = 0; i < Q; ++i) {
        double max = -INFINITY;
        for (std::int64_t j = 0; j < K; ++j) {
          double dot = 0;
          for (std::int64_t f = 0; f < E; ++f) dot += q.at(b, h, i, f) * k.at(b, h, j, f);
          p[i * K + j] = j <= i ? dot * scale : -INFINITY;  // causal: keys up to the query
          max = std::max(max, p[i * K + j]);
        }
        double sum = 0;
        for (std::int64_t j = 0; j < K; ++j) sum += p[i * K + j] = std::exp(p[i * K + j] - max);
        for (std::int64_t j = 0; j < K; ++j) p[i * K + j] /= sum;
        ref.lse[slice * Q + i] = max + std::log(sum);
        for (std::int64_t f = 0; f < E; ++f) {
          double o = 0;
          for (std::int64_t j = 0; j < K; ++j) o += p[i * K + j] * v.at(b, h, j, f);
          ref.out[(slice * Q + i) * E + f] = o;
        }
      }
      for (std::int64_t i = 0; i < Q; ++i) {
        double delta = 0;
        for (std::int64_t f = 0; f < E; ++f)
          delta += dout.at(b, h, i, f) * ref.out[(slice * Q + i) * E + f];
        for (std::int64_t j = 0; j < K; ++j) {
          double d = 0;
          for (std::int64_t f = 0; f < E; ++f) d += dout.at(b, h, i, f) * v.at(b, h, j, f);
          dp[i * K + j] = p[i * K + j] * (d - delta);  // dS
        }
      }
      for (std::int64_t i = 0; i < Q; ++i) {
        for (std::int64_t f = 0; f < E; ++f) {
          double g = 0;
          for (std::int64_t j = 0; j < K; ++j) g += dp[i * K + j] * k.at(b, h, j, f);
          ref.dq[(slice * Q + i) * E + f] = scale * g;
        }
      }
      for (std::int64_t j = 0; j < K; ++j) {
        for (std::int64_t f = 0; f < E; ++f) {
          double gk = 0, gv = 0;
          for (std::int64_t i = 0; i < Q; ++i) {
            gk += dp[i * K + j] * q.at(b, h, i, f);
            gv += p[i * K + j] * dout.at(b, h, i, f);
          }
          ref.dk[(slice * K + j) * E + f] = scale * gk;
          ref.dv[(slice * K + j) * E + f] = gv;
        }
      }
    }
  }
  return ref;
}

// Within bfloat16's rounding of the operands' products and of the weights the kernel rounds.
void expect_close(const Operand& got, const std::vector<double>& want, const char* what) {
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double error = std::abs(to_float(got.values[i]) - want[i]) / (0.1 + std::abs(want[i]));
    worst = std::max(worst, error);
  }
  EXPECT_LT(worst, 0.03) << what;
}

class Attention16 : public ::testing::TestWithParam<Shape> {};

TEST_P(Attention16, MatchesFloat64ForwardAndBackward) {
  const Shape s = GetParam();
  const Operand q(s, s.queries, false, 1), k(s, s.keys, true, 2), v(s, s.keys, false, 3),
      dout(s, s.queries, false, 4);
  Operand out(s, s.queries, false, 5), dq(s, s.queries, false, 6), dk(s, s.keys, false, 7),
      dv(s, s.keys, false, 8);
  std::vector<float> lse(s.batch * s.heads * s.queries);
  Attention a;
  a.q = q.desc;
  a.k = k.desc;
  a.v = v.desc;
  a.out = out.desc;
  a.logsumexp.dtype = DType::Float32;
  a.logsumexp.ndim = 3;
  a.logsumexp.sizes = {s.batch, s.heads, s.queries};
  a.logsumexp.strides = {s.heads * s.queries, s.queries, 1};
  a.logsumexp.data = lse.data();
  a.scale = 1.f / std::sqrt(static_cast<float>(s.features));
  a.causal = true;
  attention_forward(a);
  attention_backward(a, dout.desc, dq.desc, dk.desc, dv.desc);

  const Reference ref = reference(s, q, k, v, dout, a.scale);
  expect_close(out, ref.out, "out");
  for (std::size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], ref.lse[i], 0.02) << i;
  expect_close(dq, ref.dq, "grad q");
  expect_close(dk, ref.dk, "grad k");
  expect_close(dv, ref.dv, "grad v");
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention16,
                         ::testing::Values(Shape{2, 3, 64, 64, 32},      // whole slices, batched
                                           Shape{2, 2, 70, 50, 16},      // more queries than keys
                                           Shape{1, 2, 300, 300, 16}));  // tile by tile

}  // namespace
}  // namespace mlu::kernels
