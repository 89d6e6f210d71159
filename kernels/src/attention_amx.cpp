// Attention with 16-bit operands on AMX: the tiles' products read the bfloat16 (or float16) q, k,
// v and output gradient where they are and accumulate in float32 on the matrix unit; the softmax
// and its gradient compute in float32, and the weights and their gradient are rounded to the
// operands' dtype for the products that read them, as PyTorch CPU's flash attention does. Where
// oneDNN has no AMX kernel for a product, that product widens its operands to float32.
#include "attention_amx.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attention_tiles.h"
#include "convert_block.h"
#include "gemm_onednn.h"
#include "mlu_kernels/build_info.h"
#include "mlu_kernels/parallel.h"
#include "single_threaded_blas.h"

namespace mlu::kernels {
namespace {

using namespace attention_tiles;

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

TensorDesc matrix(DType dtype, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                  bool transposed) {
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = 2;
  d.sizes[0] = rows;
  d.sizes[1] = cols;
  d.strides[0] = transposed ? 1 : row_stride;
  d.strides[1] = transposed ? row_stride : 1;
  d.data = nullptr;
  return d;
}

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
      it->second = AmxStepProduct::make(matrix(DType::Float32, m, n, ldc, false),
                                        matrix(dtype_of<T>(), m, k, lda, false),
                                        matrix(dtype_of<T>(), k, n, ldb, b_transposed), accumulate);
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

// s *= factor over n floats. The factor is a value: read through the Attention while storing
// floats, it could alias them, and the loop did not vectorise (a gpt forward spent longer in its
// scaling loops than in its products).
void scale_block(float* s, std::int64_t n, float factor) {
  for (std::int64_t i = 0; i < n; ++i) s[i] *= factor;
}

// s *= z elementwise over n floats.
void multiply_block(float* s, const float* z, std::int64_t n) {
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
  thread_local std::vector<float> delta, dq, dk, dv, p, dp, z, dropped, wide_out, wide_dout;
  thread_local std::vector<T> weights_t, ds, ds_t;
  delta.resize(queries), wide_out.resize(ev), wide_dout.resize(ev);
  for (std::int64_t i = 0; i < queries; ++i) {
    convert_block(wide_out.data(), o.row(i), ev);
    convert_block(wide_dout.data(), dout.row(i), ev);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < ev; ++j) sum += wide_dout[j] * wide_out[j];
    delta[i] = sum;
  }
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

// Slices of one key tile or less (a GPT's 64 tokens): their products are batched over up to 64
// slices at a time (kSlicesPerChunk), so that oneDNN's cost per call, which made one product per
// slice slower than the widened tiles, is paid per chunk; products write the 16-bit outputs and
// gradients where they go.
constexpr std::int64_t kSlicesPerChunk = 64;

// d [.., rows, cols] read as its transpose [.., cols, rows].
TensorDesc transposed(TensorDesc d) {
  std::swap(d.sizes[2], d.sizes[3]);
  std::swap(d.strides[2], d.strides[3]);
  return d;
}

// The chunk's slices (b0.., h0..) of a [B, H, rows, cols] operand.
struct Chunk;
TensorDesc slices_of(const TensorDesc& d, const Chunk& c);

// A contiguous [nb, nh, rows, cols] buffer.
template <typename E>
TensorDesc buffer_of(std::vector<E>& storage, DType dtype, std::int64_t nb, std::int64_t nh,
                     std::int64_t rows, std::int64_t cols) {
  storage.resize(nb * nh * rows * cols);
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = 4;
  d.sizes = {nb, nh, rows, cols};
  d.strides = {nh * rows * cols, rows * cols, cols, 1};
  d.data = storage.data();
  return d;
}

// One thread's batched products out = a @ b over [slices, slices, rows, cols] operands (out in
// float32 or the operands' dtype), planned once per layout and kept across calls; where oneDNN has
// no AMX kernel for a layout, slice by slice in float32.
template <typename T>
class BatchedProducts {
 public:
  void run(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b) {
    std::vector<std::int64_t> key{static_cast<std::int64_t>(out.dtype)};
    for (const TensorDesc* d : {&out, &a, &b}) {
      key.insert(key.end(), d->sizes.begin(), d->sizes.begin() + 4);
      key.insert(key.end(), d->strides.begin(), d->strides.begin() + 4);
    }
    if (plans_.size() >= kMaxPlans && !plans_.contains(key)) plans_.clear();
    auto [it, made] = plans_.try_emplace(std::move(key));
    if (made) it->second = AmxStepProduct::make(out, a, b, false);
    if (it->second) {
      it->second->run(out.data, a.data, b.data);
      return;
    }
    for (std::int64_t i = 0; i < out.sizes[0]; ++i) {
      for (std::int64_t j = 0; j < out.sizes[1]; ++j) slice_product(out, a, b, i, j);
    }
  }

 private:
  // Widened to float32: the fallback where oneDNN has no AMX kernel for a layout.
  void slice_product(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                     std::int64_t i, std::int64_t j) {
    const std::int64_t m = a.sizes[2], k = a.sizes[3], n = b.sizes[3];
    widen(wide_a_, a, i, j);
    widen(wide_b_, b, i, j);
    wide_out_.resize(m * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.f, wide_a_.data(), k,
                wide_b_.data(), n, 0.f, wide_out_.data(), n);
    const std::int64_t first = i * out.strides[0] + j * out.strides[1];
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t c = 0; c < n; ++c) {
        const std::int64_t at = first + r * out.strides[2] + c * out.strides[3];
        if (out.dtype == DType::Float32)
          static_cast<float*>(out.data)[at] = wide_out_[r * n + c];
        else
          convert_block(static_cast<T*>(out.data) + at, &wide_out_[r * n + c], 1);
      }
    }
  }

  static void widen(std::vector<float>& to, const TensorDesc& d, std::int64_t i, std::int64_t j) {
    const T* from = static_cast<const T*>(d.data) + i * d.strides[0] + j * d.strides[1];
    to.resize(d.sizes[2] * d.sizes[3]);
    for (std::int64_t r = 0; r < d.sizes[2]; ++r) {
      for (std::int64_t c = 0; c < d.sizes[3]; ++c)
        to[r * d.sizes[3] + c] = to_float(from[r * d.strides[2] + c * d.strides[3]]);
    }
  }

  static constexpr std::size_t kMaxPlans = 64;
  std::map<std::vector<std::int64_t>, std::unique_ptr<AmxStepProduct>> plans_;
  std::vector<float> wide_a_, wide_b_, wide_out_;
};

// A chunk of slices: batches b0.. (every head) or, with one batch, heads h0...
struct Chunk {
  std::int64_t b0, nb, h0, nh;
};

TensorDesc slices_of(const TensorDesc& d, const Chunk& c) {
  TensorDesc s = d;
  s.data = static_cast<char*>(d.data) + (c.b0 * d.strides[0] + c.h0 * d.strides[1]) *
                                            static_cast<std::int64_t>(element_size(d.dtype));
  s.sizes[0] = c.nb;
  s.sizes[1] = c.nh;
  return s;
}

template <typename F>
void for_each_chunk(const Attention& a, F f) {
  const std::int64_t batches = a.q.sizes[0], heads = a.q.sizes[1];
  // At least one chunk per kernel thread.
  const std::int64_t per_chunk =
      std::max<std::int64_t>(1, std::min(kSlicesPerChunk, batches * heads / kernel_threads()));
  std::vector<Chunk> chunks;
  if (heads >= per_chunk) {
    for (std::int64_t b = 0; b < batches; ++b) {
      for (std::int64_t h = 0; h < heads; h += per_chunk)
        chunks.push_back({b, 1, h, std::min(per_chunk, heads - h)});
    }
  } else {
    const std::int64_t nb = per_chunk / heads;
    for (std::int64_t b = 0; b < batches; b += nb)
      chunks.push_back({b, std::min(nb, batches - b), 0, heads});
  }
  const SingleThreadedBlas single_threaded;  // the fallback's products are per slice
  parallel_for(static_cast<std::int64_t>(chunks.size()), 1,
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t c = first; c < last; ++c) f(chunks[static_cast<std::size_t>(c)]);
               });
}

template <typename T>
void forward_chunk(const Attention& a, const Chunk& c, BatchedProducts<T>& products) {
  const std::int64_t queries = a.q.sizes[2], keys = a.k.sizes[2];
  thread_local std::vector<float> s, row_max, row_sum, z;
  thread_local std::vector<T> weights;
  const TensorDesc sd = buffer_of(s, DType::Float32, c.nb, c.nh, queries, keys);
  products.run(sd, slices_of(a.q, c), transposed(slices_of(a.k, c)));
  const TensorDesc wd = buffer_of(weights, dtype_of<T>(), c.nb, c.nh, queries, keys);
  row_max.resize(queries), row_sum.resize(queries), z.resize(a.dropout > 0 ? queries * keys : 0);
  for (std::int64_t i = 0; i < c.nb * c.nh; ++i) {
    const std::int64_t b = c.b0 + i / c.nh, h = c.h0 + i % c.nh;
    float* si = s.data() + i * queries * keys;
    scale_block(si, queries * keys, a.scale);
    mask_scores(a, mask_slice(a, b, h), 0, queries, 0, keys, si);
    std::fill(row_max.begin(), row_max.end(), kNegInf);
    std::fill(row_sum.begin(), row_sum.end(), 0.f);
    softmax_block(queries, keys, 0, si, row_max.data(), row_sum.data(), nullptr);
    float* lse = static_cast<float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * queries;
    if (a.dropout > 0) dropout_factors(a, b, h, 0, queries, 0, keys, z.data());
    for (std::int64_t r = 0; r < queries; ++r) {
      lse[r] = row_logsumexp(row_max[r], row_sum[r]);
      scale_block(si + r * keys, keys, row_inverse(row_sum[r]));
    }
    if (a.dropout > 0) multiply_block(si, z.data(), queries * keys);
    round_block(si, queries, keys, weights.data() + i * queries * keys, false);
  }
  products.run(slices_of(a.out, c), wd, slices_of(a.v, c));
}

template <typename T>
void backward_chunk(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                    const TensorDesc& grad_k, const TensorDesc& grad_v, const Chunk& c,
                    BatchedProducts<T>& products) {
  const std::int64_t queries = a.q.sizes[2], keys = a.k.sizes[2], ev = a.v.sizes[3],
                     area = queries * keys;
  thread_local std::vector<float> p, dp, z, delta, wide_out, wide_dout;
  thread_local std::vector<T> weights, ds;
  const TensorDesc pd = buffer_of(p, DType::Float32, c.nb, c.nh, queries, keys);
  products.run(pd, slices_of(a.q, c), transposed(slices_of(a.k, c)));
  const TensorDesc wd = buffer_of(weights, dtype_of<T>(), c.nb, c.nh, queries, keys);
  z.resize(a.dropout > 0 ? c.nb * c.nh * area : 0);
  delta.resize(c.nb * c.nh * queries), wide_out.resize(ev), wide_dout.resize(ev);
  for (std::int64_t i = 0; i < c.nb * c.nh; ++i) {
    const std::int64_t b = c.b0 + i / c.nh, h = c.h0 + i % c.nh;
    float* pi = p.data() + i * area;
    scale_block(pi, area, a.scale);
    mask_scores(a, mask_slice(a, b, h), 0, queries, 0, keys, pi);
    weights_from_logsumexp(
        static_cast<const float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * queries, queries,
        keys, pi);
    float* zi = z.data() + i * area;
    if (a.dropout > 0) dropout_factors(a, b, h, 0, queries, 0, keys, zi);
    const float* dropped = pi;
    if (a.dropout > 0) {
      thread_local std::vector<float> product;
      product.assign(pi, pi + area);
      multiply_block(product.data(), zi, area);
      dropped = product.data();
    }
    round_block(dropped, queries, keys, weights.data() + i * area, false);
    const Rows<T> o = rows_of<T>(a.out, b, h), dout = rows_of<T>(grad_out, b, h);
    for (std::int64_t r = 0; r < queries; ++r) {
      convert_block(wide_out.data(), o.row(r), ev);
      convert_block(wide_dout.data(), dout.row(r), ev);
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t j = 0; j < ev; ++j) sum += wide_dout[j] * wide_out[j];
      delta[i * queries + r] = sum;
    }
  }
  const TensorDesc dout_slices = slices_of(grad_out, c);
  products.run(slices_of(grad_v, c), transposed(wd), dout_slices);
  products.run(buffer_of(dp, DType::Float32, c.nb, c.nh, queries, keys), dout_slices,
               transposed(slices_of(a.v, c)));
  const TensorDesc dsd = buffer_of(ds, dtype_of<T>(), c.nb, c.nh, queries, keys);
  for (std::int64_t i = 0; i < c.nb * c.nh; ++i) {
    float* dpi = dp.data() + i * area;
    if (a.dropout > 0) multiply_block(dpi, z.data() + i * area, area);
    softmax_gradient(p.data() + i * area, delta.data() + i * queries, queries, keys, dpi);
    scale_block(dpi, area, a.scale);  // dq = scale dS k, dk = scale dS^T q
    round_block(dpi, queries, keys, ds.data() + i * area, false);
  }
  products.run(slices_of(grad_q, c), dsd, slices_of(a.k, c));
  products.run(slices_of(grad_k, c), transposed(dsd), slices_of(a.q, c));
}

}  // namespace

bool attention_on_amx(DType dtype) {
  return (dtype == DType::BFloat16 || dtype == DType::Float16) && amx_products(dtype);
}

void attention_forward_amx(const Attention& a) {
  auto run = [&]<typename T>(T*) {
    if (a.k.sizes[2] <= kBlockK) {
      for_each_chunk(a, [&](const Chunk& c) {
        thread_local BatchedProducts<T> products;
        forward_chunk(a, c, products);
      });
      return;
    }
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
  auto run = [&]<typename T>(T*) {
    if (a.k.sizes[2] <= kBlockK) {
      for_each_chunk(a, [&](const Chunk& c) {
        thread_local BatchedProducts<T> products;
        backward_chunk(a, grad_out, grad_q, grad_k, grad_v, c, products);
      });
      return;
    }
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
