// Attention on AMX for slices of at most kMaxBatchedKeys keys (a GPT's 64 tokens): one product per
// 64 x 64 tile cost more in oneDNN's per-call work than the widened float32 tiles there, so each
// slice's scores are computed whole and the products batched over several slices (up to 64 slices
// of 64 x 64 scores per product), in four dimensions over the operands' own strides, writing the
// 16-bit outputs and gradients where they go.
#include <cblas.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "attention_amx_common.h"
#include "attention_tiles.h"
#include "gemm_onednn.h"
#include "mlu_kernels/parallel.h"
#include "single_threaded_blas.h"

namespace mlu::kernels::attention_amx {
namespace {

using namespace attention_tiles;

// Scores per chunk: 64 slices of 64 x 64 (1 MB in float32), 4 of 256 x 256.
constexpr std::int64_t kScoresPerChunk = 64 * 64 * 64;

// d [.., rows, cols] read as its transpose [.., cols, rows].
TensorDesc transposed(TensorDesc d) {
  std::swap(d.sizes[2], d.sizes[3]);
  std::swap(d.strides[2], d.strides[3]);
  return d;
}

// A chunk of slices: batches b0.. (every head) or, with one batch, heads h0...
struct Chunk {
  std::int64_t b0, nb, h0, nh;
};

// The chunk's slices of a [B, H, rows, cols] operand.
TensorDesc slices_of(const TensorDesc& d, const Chunk& c) {
  TensorDesc s = d;
  s.data = static_cast<char*>(d.data) + (c.b0 * d.strides[0] + c.h0 * d.strides[1]) *
                                            static_cast<std::int64_t>(element_size(d.dtype));
  s.sizes[0] = c.nb;
  s.sizes[1] = c.nh;
  return s;
}

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

// One thread's batched products out = a @ b over [batches, heads, rows, cols] operands (out in
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

template <typename F>
void for_each_chunk(const Attention& a, F f) {
  const std::int64_t batches = a.q.sizes[0], heads = a.q.sizes[1];
  if (batches * heads == 0) return;  // no slice (and no head count to divide chunks by)
  // Chunks of at most kScoresPerChunk scores, at least two per kernel thread: a helper that
  // starts late still takes its share.
  const std::int64_t area = a.q.sizes[2] * a.k.sizes[2];
  const std::int64_t per_chunk = std::max<std::int64_t>(
      1, std::min(kScoresPerChunk / area, batches * heads / (2 * kernel_threads())));
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
  thread_local std::vector<float> p, dp, z, delta;
  thread_local std::vector<T> weights, ds;
  const TensorDesc pd = buffer_of(p, DType::Float32, c.nb, c.nh, queries, keys);
  products.run(pd, slices_of(a.q, c), transposed(slices_of(a.k, c)));
  const TensorDesc wd = buffer_of(weights, dtype_of<T>(), c.nb, c.nh, queries, keys);
  z.resize(a.dropout > 0 ? c.nb * c.nh * area : 0);
  delta.resize(c.nb * c.nh * queries);
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
    output_deltas(rows_of<T>(a.out, b, h), rows_of<T>(grad_out, b, h), queries, ev,
                  delta.data() + i * queries);
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

void forward_batched(const Attention& a) {
  auto run = [&]<typename T>(T*) {
    for_each_chunk(a, [&](const Chunk& c) {
      thread_local BatchedProducts<T> products;
      forward_chunk(a, c, products);
    });
  };
  a.q.dtype == DType::BFloat16 ? run(static_cast<BFloat16*>(nullptr))
                               : run(static_cast<Half*>(nullptr));
}

void backward_batched(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                      const TensorDesc& grad_k, const TensorDesc& grad_v) {
  auto run = [&]<typename T>(T*) {
    for_each_chunk(a, [&](const Chunk& c) {
      thread_local BatchedProducts<T> products;
      backward_chunk(a, grad_out, grad_q, grad_k, grad_v, c, products);
    });
  };
  a.q.dtype == DType::BFloat16 ? run(static_cast<BFloat16*>(nullptr))
                               : run(static_cast<Half*>(nullptr));
}

}  // namespace mlu::kernels::attention_amx
