#include "mlu_kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <vector>

#include "attention_amx.h"
#include "attention_tiles.h"
#include "convert_block.h"
#include "mlu_kernels/parallel.h"
#include "single_threaded_blas.h"

namespace mlu::kernels {
namespace {

using namespace attention_tiles;

// Rows of one (batch, head) slice in float32: row l starts at base + l * row_stride.
struct Slice {
  float* base;
  std::int64_t row_stride;
  float* row(std::int64_t l) const { return base + l * row_stride; }
};

// One (batch, head) slice of an operand as float32 rows: the operand's own rows when it is
// float32; for float16 and bfloat16 a float copy in `buffer`, widened from the operand when it
// is read and rounded back by store() when it is written. The kernel then computes 16-bit
// operands exactly as it computes float32 copies of them, without copies of whole tensors.
class FloatSlice {
 public:
  FloatSlice(const TensorDesc& d, std::int64_t b, std::int64_t h, std::vector<float>& buffer,
             bool read)
      : desc_(d),
        first_(static_cast<char*>(d.data) +
               (b * d.strides[0] + h * d.strides[1]) * element_size(d.dtype)) {
    if (d.dtype == DType::Float32) {
      rows = {reinterpret_cast<float*>(first_), d.strides[2]};
      return;
    }
    buffer.resize(d.sizes[2] * d.sizes[3]);
    rows = {buffer.data(), d.sizes[3]};
    if (!read) return;
    for (std::int64_t l = 0; l < d.sizes[2]; ++l) {
      if (d.dtype == DType::Float16)
        convert_block(rows.row(l), reinterpret_cast<const Half*>(row_bytes(l)), d.sizes[3]);
      else
        convert_block(rows.row(l), reinterpret_cast<const BFloat16*>(row_bytes(l)), d.sizes[3]);
    }
  }

  void store() const {
    if (desc_.dtype == DType::Float32) return;
    for (std::int64_t l = 0; l < desc_.sizes[2]; ++l) {
      if (desc_.dtype == DType::Float16)
        convert_block(reinterpret_cast<Half*>(row_bytes(l)), rows.row(l), desc_.sizes[3]);
      else
        convert_block(reinterpret_cast<BFloat16*>(row_bytes(l)), rows.row(l), desc_.sizes[3]);
    }
  }

  Slice rows;

 private:
  char* row_bytes(std::int64_t l) const {
    return first_ + l * desc_.strides[2] * static_cast<std::int64_t>(element_size(desc_.dtype));
  }

  const TensorDesc& desc_;
  char* first_;
};

bool attention_dtype(DType dtype) {
  return dtype == DType::Float32 || dtype == DType::Float16 || dtype == DType::BFloat16;
}

// Features one element apart, or nothing to read: an empty operand (no heads, say) may have any
// strides (the gradient of a sum over one is expanded, all strides 0).
bool unit_feature_stride(const TensorDesc& d) {
  return d.strides[3] == 1 || d.sizes[3] <= 1 || d.numel() == 0;
}

void check(const Attention& a) {
  for (const TensorDesc* d : {&a.q, &a.k, &a.v, &a.out}) {
    if (!attention_dtype(d->dtype) || d->dtype != a.q.dtype || d->ndim != 4 ||
        !unit_feature_stride(*d)) {
      throw KernelError(
          "attention: operands must be [B, H, L, E] of one dtype (float32, float16 or bfloat16) "
          "with unit feature stride");
    }
  }
  if (a.logsumexp.dtype != DType::Float32) {
    throw KernelError("attention: logsumexp must be float32");
  }
  if (!(a.dropout >= 0 && a.dropout < 1)) {
    throw KernelError("attention: the dropout probability must be in [0, 1)");
  }
  const TensorDesc& m = a.mask;
  if (m.ndim != 0 && (m.ndim != 4 || (m.dtype != DType::Float32 && m.dtype != DType::Bool) ||
                      m.sizes[0] != a.q.sizes[0] || m.sizes[1] != a.q.sizes[1] ||
                      m.sizes[2] != a.q.sizes[2] || m.sizes[3] != a.k.sizes[2])) {
    throw KernelError("attention: the mask must be float32 or bool [B, H, Lq, Lk]");
  }
}

// Scores of a query block against a key block, scaled and masked: s = scale * q k^T (+ mask).
void scores(const Attention& a, const Slice& q, const Slice& k, const MaskSlice& mask,
            std::int64_t q0, std::int64_t nq, std::int64_t k0, std::int64_t nk, float* s) {
  const std::int64_t e = a.q.sizes[3];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, e, a.scale, q.row(q0), q.row_stride,
              k.row(k0), k.row_stride, 0.f, s, nk);
  mask_scores(a, mask, q0, nq, k0, nk, s);
}

void forward_slice(const Attention& a, std::int64_t b, std::int64_t h) {
  thread_local std::array<std::vector<float>, 4> buffers;
  const FloatSlice q_rows(a.q, b, h, buffers[0], true), k_rows(a.k, b, h, buffers[1], true),
      v_rows(a.v, b, h, buffers[2], true), o_rows(a.out, b, h, buffers[3], false);
  const Slice q = q_rows.rows, k = k_rows.rows, v = v_rows.rows, o = o_rows.rows;
  const MaskSlice mask = mask_slice(a, b, h);
  float* lse = static_cast<float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * a.q.sizes[2];
  const std::int64_t queries = a.q.sizes[2], ev = a.v.sizes[3];
  std::vector<float> s(kBlockQ * kBlockK), acc(kBlockQ * ev), row_max(kBlockQ), row_sum(kBlockQ);
  std::vector<float> z(a.dropout > 0 ? kBlockQ * kBlockK : 0);
  for (std::int64_t q0 = 0; q0 < queries; q0 += kBlockQ) {
    const std::int64_t nq = std::min(kBlockQ, queries - q0), kend = key_end(a, q0, nq);
    std::fill(row_max.begin(), row_max.end(), kNegInf);
    std::fill(row_sum.begin(), row_sum.end(), 0.f);
    std::fill(acc.begin(), acc.end(), 0.f);
    for (std::int64_t k0 = 0; k0 < kend; k0 += kBlockK) {
      const std::int64_t nk = std::min(kBlockK, kend - k0);
      scores(a, q, k, mask, q0, nq, k0, nk, s.data());
      softmax_block(nq, nk, ev, s.data(), row_max.data(), row_sum.data(), acc.data());
      if (a.dropout > 0) {  // the sums normalise the weights before dropout, as PyTorch's do
        dropout_factors(a, b, h, q0, nq, k0, nk, z.data());
        for (std::int64_t i = 0; i < nq * nk; ++i) s[i] *= z[i];
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, ev, nk, 1.f, s.data(), nk,
                  v.row(k0), v.row_stride, 1.f, acc.data(), ev);
    }
    for (std::int64_t r = 0; r < nq; ++r) {
      const float inv = row_inverse(row_sum[r]);
      float* out_row = o.row(q0 + r);
      for (std::int64_t j = 0; j < ev; ++j) out_row[j] = acc[r * ev + j] * inv;
      lse[q0 + r] = row_logsumexp(row_max[r], row_sum[r]);
    }
  }
  o_rows.store();
}

void backward_slice(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                    const TensorDesc& grad_k, const TensorDesc& grad_v, std::int64_t b,
                    std::int64_t h) {
  thread_local std::array<std::vector<float>, 8> buffers;
  const FloatSlice q_rows(a.q, b, h, buffers[0], true), k_rows(a.k, b, h, buffers[1], true),
      v_rows(a.v, b, h, buffers[2], true), o_rows(a.out, b, h, buffers[3], true),
      dout_rows(grad_out, b, h, buffers[4], true), dq_rows(grad_q, b, h, buffers[5], false),
      dk_rows(grad_k, b, h, buffers[6], false), dv_rows(grad_v, b, h, buffers[7], false);
  const Slice q = q_rows.rows, k = k_rows.rows, v = v_rows.rows, o = o_rows.rows;
  const Slice dout = dout_rows.rows, dq = dq_rows.rows, dk = dk_rows.rows, dv = dv_rows.rows;
  const MaskSlice mask = mask_slice(a, b, h);
  const float* lse =
      static_cast<const float*>(a.logsumexp.data) + (b * a.q.sizes[1] + h) * a.q.sizes[2];
  const std::int64_t queries = a.q.sizes[2], keys = a.k.sizes[2], e = a.q.sizes[3],
                     ev = a.v.sizes[3];

  // delta_i = sum_j dO_ij O_ij: the softmax gradient's correction per query row.
  std::vector<float> delta(queries);
  for (std::int64_t i = 0; i < queries; ++i) {
    float sum = 0;
    const float *dout_row = dout.row(i), *out_row = o.row(i);
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < ev; ++j) sum += dout_row[j] * out_row[j];
    delta[i] = sum;
  }
  for (std::int64_t i = 0; i < queries; ++i) std::fill(dq.row(i), dq.row(i) + e, 0.f);
  std::vector<float> p(kBlockQ * kBlockK), dp(kBlockQ * kBlockK);
  // With dropout: the factors, and the weights after dropout (what multiplied v).
  std::vector<float> z(a.dropout > 0 ? kBlockQ * kBlockK : 0), dropped(z.size());
  for (std::int64_t k0 = 0; k0 < keys; k0 += kBlockK) {
    const std::int64_t nk = std::min(kBlockK, keys - k0);
    for (std::int64_t r = 0; r < nk; ++r) {
      std::fill(dk.row(k0 + r), dk.row(k0 + r) + e, 0.f);
      std::fill(dv.row(k0 + r), dv.row(k0 + r) + ev, 0.f);
    }
    const std::int64_t first_q = a.causal ? k0 / kBlockQ * kBlockQ : 0;
    for (std::int64_t q0 = first_q; q0 < queries; q0 += kBlockQ) {
      const std::int64_t nq = std::min(kBlockQ, queries - q0);
      scores(a, q, k, mask, q0, nq, k0, nk, p.data());
      weights_from_logsumexp(lse + q0, nq, nk, p.data());
      const float* weights = p.data();
      if (a.dropout > 0) {
        dropout_factors(a, b, h, q0, nq, k0, nk, z.data());
        for (std::int64_t i = 0; i < nq * nk; ++i) dropped[i] = p[i] * z[i];
        weights = dropped.data();
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, ev, nq, 1.f, weights, nk,
                  dout.row(q0), dout.row_stride, 1.f, dv.row(k0), dv.row_stride);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, ev, 1.f, dout.row(q0),
                  dout.row_stride, v.row(k0), v.row_stride, 0.f, dp.data(), nk);
      if (a.dropout > 0) {
        for (std::int64_t i = 0; i < nq * nk; ++i) dp[i] *= z[i];
      }
      // delta is the row sum of dO * O over the output after dropout, which is what the dropped
      // weights' softmax gradient subtracts.
      softmax_gradient(p.data(), delta.data() + q0, nq, nk, dp.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, e, nk, a.scale, dp.data(), nk,
                  k.row(k0), k.row_stride, 1.f, dq.row(q0), dq.row_stride);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, e, nq, a.scale, dp.data(), nk,
                  q.row(q0), q.row_stride, 1.f, dk.row(k0), dk.row_stride);
    }
  }
  for (const FloatSlice* written : {&dq_rows, &dk_rows, &dv_rows}) written->store();
}

template <typename F>
void for_each_slice(const Attention& a, F f) {
  const std::int64_t heads = a.q.sizes[1], slices = a.q.sizes[0] * heads;
  const SingleThreadedBlas single_threaded;  // the parallelism is across slices; tiles are small
  parallel_for(slices, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t s = first; s < last; ++s) f(s / heads, s % heads);
  });
}

}  // namespace

void attention_forward(const Attention& a) {
  check(a);
  if (attention_on_amx(a.q.dtype)) {
    attention_forward_amx(a);
    return;
  }
  for_each_slice(a, [&](std::int64_t b, std::int64_t h) { forward_slice(a, b, h); });
}

void attention_backward(const Attention& a, const TensorDesc& grad_out, const TensorDesc& grad_q,
                        const TensorDesc& grad_k, const TensorDesc& grad_v) {
  check(a);
  for (const TensorDesc* d : {&grad_out, &grad_q, &grad_k, &grad_v}) {
    if (d->dtype != a.q.dtype || d->ndim != 4 || !unit_feature_stride(*d)) {
      throw KernelError(
          "attention backward: gradients must have the inputs' dtype and unit feature stride");
    }
  }
  if (attention_on_amx(a.q.dtype)) {
    attention_backward_amx(a, grad_out, grad_q, grad_k, grad_v);
    return;
  }
  for_each_slice(a, [&](std::int64_t b, std::int64_t h) {
    backward_slice(a, grad_out, grad_q, grad_k, grad_v, b, h);
  });
}

}  // namespace mlu::kernels
