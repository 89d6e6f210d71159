// Attention with 16-bit operands on AMX: the tiles' products read the bfloat16 (or float16) q, k,
// v and output gradient where they are and accumulate in float32 on the matrix unit; the softmax
// and its gradient compute in float32, and the weights and their gradient are rounded to the
// operands' dtype for the products that read them, as PyTorch CPU's flash attention does. Where
// oneDNN has no AMX kernel for a product, that product widens its operands to float32. Slices of
// many keys run tile by tile here; shorter ones whole, batched (attention_amx_batched.cpp).
#include "attention_amx.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attention_amx_common.h"
#include "attention_tiles.h"
#include "convert_block.h"
#include "gemm_onednn.h"
#include "mlu_kernels/build_info.h"
#include "mlu_kernels/parallel.h"
#include "single_threaded_blas.h"

namespace mlu::kernels {
namespace {

using namespace attention_tiles;
using namespace attention_amx;

// One thread's tile products: out [m, n] (float32, row stride ldc) = (+=) a [m, k] @ b, where b
// is [k, n] with row stride ldb, or, when b_transposed, the transpose of [n, k] rows of stride ldb
// (the keys in q k^T). Each shape is planned once per thread and kept across calls: making a
// product's memory objects per call cost more than the products at gpt's 64 x 64 x 32 tiles.
template <typename T>
class TileProducts {
 public:
  void run(float* out, std::int64_t ldc, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
           bool b_transposed, std::int64_t m, std::int64_t n, std::int64_t k, bool accumulate) {
    const std::array<std::int64_t, 8> key{ldc, lda, ldb, b_transposed, m, n, k, accumulate};
    if (plans_.size() >= kMaxPlans && !plans_.contains(key)) plans_.clear();
    auto [it, made] = plans_.try_emplace(key);
    if (made) {
      it->second = AmxStepProduct::make(
          matrix_desc(DType::Float32, nullptr, m, n, ldc, false),
          matrix_desc(dtype_of<T>(), nullptr, m, k, lda, false),
          matrix_desc(dtype_of<T>(), nullptr, k, n, ldb, b_transposed), accumulate);
    }
    if (it->second) {
      it->second->run(out, a, b);
      return;
    }
    widen(wide_a_, a, lda, m, k);
    widen(wide_b_, b, ldb, b_transposed ? n : k, b_transposed ? k : n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, m, n, k, 1.f,
                wide_a_.data(), k, wide_b_.data(), b_transposed ? k : n, accumulate ? 1.f : 0.f,
                out, ldc);
  }

 private:
  static void widen(std::vector<float>& to, const T* from, std::int64_t stride, std::int64_t rows,
                    std::int64_t cols) {
    to.resize(rows * cols);
    for (std::int64_t r = 0; r < rows; ++r)
      convert_block(to.data() + r * cols, from + r * stride, cols);
  }

  static constexpr std::size_t kMaxPlans = 64;  // a few shapes per attention layer
  std::map<std::array<std::int64_t, 8>, std::unique_ptr<AmxStepProduct>> plans_;
  std::vector<float> wide_a_, wide_b_;
};

// Rows [rows, cols] of from, times factor, rounded into to.
template <typename T>
void store_rows(const float* from, std::int64_t rows, std::int64_t cols, float factor, Rows<T> to) {
  thread_local std::vector<float> row;
  row.resize(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) row[j] = from[r * cols + j] * factor;
    convert_block(to.row(r), row.data(), cols);
  }
}

template <typename T>
void forward_slice(const Attention& a, std::int64_t b, std::int64_t h, TileProducts<T>& products) {
  const Rows<T> q = rows_of<T>(a.q, b, h), k = rows_of<T>(a.k, b, h), v = rows_of<T>(a.v, b, h),
                o = rows_of<T>(a.out, b, h);
  const MaskSlice mask = mask_slice(a, b, h);
  float* lse = static_cast<float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * a.q.sizes[2];
  const std::int64_t queries = a.q.sizes[2], e = a.q.sizes[3], ev = a.v.sizes[3];
  thread_local std::vector<float> s, acc, row_max, row_sum, z;
  thread_local std::vector<T> weights;
  s.resize(kBlockQ * kBlockK), acc.resize(kBlockQ * ev), weights.resize(kBlockQ * kBlockK);
  row_max.resize(kBlockQ), row_sum.resize(kBlockQ), z.resize(a.dropout > 0 ? kBlockQ * kBlockK : 0);
  for (std::int64_t q0 = 0; q0 < queries; q0 += kBlockQ) {
    const std::int64_t nq = std::min(kBlockQ, queries - q0), kend = key_end(a, q0, nq);
    std::fill(row_max.begin(), row_max.end(), kNegInf);
    std::fill(row_sum.begin(), row_sum.end(), 0.f);
    std::fill(acc.begin(), acc.end(), 0.f);
    for (std::int64_t k0 = 0; k0 < kend; k0 += kBlockK) {
      const std::int64_t nk = std::min(kBlockK, kend - k0);
      products.run(s.data(), nk, q.row(q0), q.stride, k.row(k0), k.stride, true, nq, nk, e, false);
      scale_block(s.data(), nq * nk, a.scale);
      mask_scores(a, mask, q0, nq, k0, nk, s.data());
      softmax_block(nq, nk, ev, s.data(), row_max.data(), row_sum.data(), acc.data());
      if (a.dropout > 0) {  // the sums normalise the weights before dropout, as PyTorch's do
        dropout_factors(a, b, h, q0, nq, k0, nk, z.data());
        for (std::int64_t i = 0; i < nq * nk; ++i) s[i] *= z[i];
      }
      round_block(s.data(), nq, nk, weights.data(), false);
      products.run(acc.data(), ev, weights.data(), nk, v.row(k0), v.stride, false, nq, ev, nk,
                   true);
    }
    for (std::int64_t r = 0; r < nq; ++r) {
      lse[q0 + r] = row_logsumexp(row_max[r], row_sum[r]);
      const float inv = row_inverse(row_sum[r]);
      for (std::int64_t j = 0; j < ev; ++j) acc[r * ev + j] *= inv;
    }
    store_rows(acc.data(), nq, ev, 1.f, Rows<T>{o.row(q0), o.stride});
  }
}

template <typename T>
void backward_slice(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                    const TensorDesc& grad_k, const TensorDesc& grad_v, std::int64_t b,
                    std::int64_t h, TileProducts<T>& products) {
  const Rows<T> q = rows_of<T>(a.q, b, h), k = rows_of<T>(a.k, b, h), v = rows_of<T>(a.v, b, h),
                o = rows_of<T>(a.out, b, h), dout = rows_of<T>(grad_out, b, h),
                dk_rows = rows_of<T>(grad_k, b, h), dv_rows = rows_of<T>(grad_v, b, h);
  const MaskSlice mask = mask_slice(a, b, h);
  const float* lse =
      static_cast<const float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * a.q.sizes[2];
  const std::int64_t queries = a.q.sizes[2], keys = a.k.sizes[2], e = a.q.sizes[3],
                     ev = a.v.sizes[3];
  thread_local std::vector<float> delta, dq, dk, dv, p, dp, z, dropped;
  thread_local std::vector<T> weights_t, ds, ds_t;
  delta.resize(queries);
  output_deltas(o, dout, queries, ev, delta.data());
  dq.assign(queries * e, 0.f);
  dk.resize(kBlockK * e), dv.resize(kBlockK * ev), p.resize(kBlockQ * kBlockK),
      dp.resize(kBlockQ * kBlockK), weights_t.resize(kBlockQ * kBlockK),
      ds.resize(kBlockQ * kBlockK), ds_t.resize(kBlockQ * kBlockK);
  z.resize(a.dropout > 0 ? kBlockQ * kBlockK : 0), dropped.resize(z.size());
  for (std::int64_t k0 = 0; k0 < keys; k0 += kBlockK) {
    const std::int64_t nk = std::min(kBlockK, keys - k0);
    std::fill(dk.begin(), dk.end(), 0.f);
    std::fill(dv.begin(), dv.end(), 0.f);
    const std::int64_t first_q = a.causal ? k0 / kBlockQ * kBlockQ : 0;
    for (std::int64_t q0 = first_q; q0 < queries; q0 += kBlockQ) {
      const std::int64_t nq = std::min(kBlockQ, queries - q0);
      products.run(p.data(), nk, q.row(q0), q.stride, k.row(k0), k.stride, true, nq, nk, e, false);
      scale_block(p.data(), nq * nk, a.scale);
      mask_scores(a, mask, q0, nq, k0, nk, p.data());
      weights_from_logsumexp(lse + q0, nq, nk, p.data());
      const float* weights = p.data();
      if (a.dropout > 0) {
        dropout_factors(a, b, h, q0, nq, k0, nk, z.data());
        for (std::int64_t i = 0; i < nq * nk; ++i) dropped[i] = p[i] * z[i];
        weights = dropped.data();
      }
      round_block(weights, nq, nk, weights_t.data(), true);
      products.run(dv.data(), ev, weights_t.data(), nq, dout.row(q0), dout.stride, false, nk, ev,
                   nq, true);
      products.run(dp.data(), nk, dout.row(q0), dout.stride, v.row(k0), v.stride, true, nq, nk, ev,
                   false);
      if (a.dropout > 0) {
        for (std::int64_t i = 0; i < nq * nk; ++i) dp[i] *= z[i];
      }
      softmax_gradient(p.data(), delta.data() + q0, nq, nk, dp.data());
      round_block(dp.data(), nq, nk, ds.data(), false);
      round_block(dp.data(), nq, nk, ds_t.data(), true);
      products.run(dq.data() + q0 * e, e, ds.data(), nk, k.row(k0), k.stride, false, nq, e, nk,
                   true);
      products.run(dk.data(), e, ds_t.data(), nq, q.row(q0), q.stride, false, nk, e, nq, true);
    }
    store_rows(dk.data(), nk, e, a.scale, Rows<T>{dk_rows.row(k0), dk_rows.stride});
    store_rows(dv.data(), nk, ev, 1.f, Rows<T>{dv_rows.row(k0), dv_rows.stride});
  }
  store_rows(dq.data(), queries, e, a.scale, rows_of<T>(grad_q, b, h));
}

template <typename T, typename F>
void for_each_slice(const Attention& a, F f) {
  const std::int64_t heads = a.q.sizes[1], slices = a.q.sizes[0] * heads;
  const SingleThreadedBlas single_threaded;  // tiles widened where oneDNN has no AMX kernel
  parallel_for(slices, 1, [&](std::int64_t first, std::int64_t last) {
    thread_local TileProducts<T> products;
    for (std::int64_t s = first; s < last; ++s) f(s / heads, s % heads, products);
  });
}

}  // namespace

bool attention_on_amx(DType dtype) {
  return (dtype == DType::BFloat16 || dtype == DType::Float16) && amx_products(dtype);
}

void attention_forward_amx(const Attention& a) {
  if (takes_batched_path(a)) {
    forward_batched(a);
    return;
  }
  auto run = [&]<typename T>(T*) {
    for_each_slice<T>(a, [&](std::int64_t b, std::int64_t h, TileProducts<T>& products) {
      forward_slice(a, b, h, products);
    });
  };
  a.q.dtype == DType::BFloat16 ? run(static_cast<BFloat16*>(nullptr))
                               : run(static_cast<Half*>(nullptr));
}

void attention_backward_amx(const Attention& a, const TensorDesc& grad_out,
                            const TensorDesc& grad_q, const TensorDesc& grad_k,
                            const TensorDesc& grad_v) {
  if (takes_batched_path(a)) {
    backward_batched(a, grad_out, grad_q, grad_k, grad_v);
    return;
  }
  auto run = [&]<typename T>(T*) {
    for_each_slice<T>(a, [&](std::int64_t b, std::int64_t h, TileProducts<T>& products) {
      backward_slice(a, grad_out, grad_q, grad_k, grad_v, b, h, products);
    });
  };
  a.q.dtype == DType::BFloat16 ? run(static_cast<BFloat16*>(nullptr))
                               : run(static_cast<Half*>(nullptr));
}

std::string attention16_path(bool bfloat16) {
  return attention_on_amx(bfloat16 ? DType::BFloat16 : DType::Float16) ? "AMX" : "float32";
}

}  // namespace mlu::kernels
