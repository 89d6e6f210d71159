#include "mlu_kernels/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "activation_math.h"
#include "float32_copy.h"
#include "gemm_onednn.h"
#include "gemm_pieces.h"
#include "mlu_kernels/copy.h"
#include "mlu_kernels/parallel.h"
#include "scalar_types.h"
#include "single_threaded_blas.h"

namespace mlu::kernels {
namespace {

Matrix matrix_of(const TensorDesc& d) {
  const int r = d.ndim - 2, c = d.ndim - 1;
  const std::int64_t rows = d.sizes[r], cols = d.sizes[c];
  if (d.strides[c] == 1 || cols == 1)
    return {rows, cols, std::max<std::int64_t>({d.strides[r], cols, 1}), false};
  return {rows, cols, std::max<std::int64_t>({d.strides[c], rows, 1}), true};
}

std::int64_t batch_of(const TensorDesc& d) { return d.ndim == 3 ? d.sizes[0] : 1; }
std::int64_t batch_stride(const TensorDesc& d) { return d.ndim == 3 ? d.strides[0] : 0; }

template <typename T>
void blas_call(const Matrix& ma, const Matrix& mb, int m, int n, int k, T alpha, const T* a,
               const T* b, T beta, T* c, int ldc) {
  const auto ta = ma.transposed ? CblasTrans : CblasNoTrans;
  const auto tb = mb.transposed ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(ma.ld), ldb = static_cast<int>(mb.ld);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace

// CBLAS takes 32-bit sizes: larger products are split into pieces of at most `limit` along m, n
// and k (k's pieces accumulate into c). A leading dimension cannot be split and must fit.
template <typename T>
void blas_gemm_in_pieces(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n,
                         std::int64_t k, T alpha, const T* a, const T* b, T beta, T* c,
                         std::int64_t ldc, std::int64_t limit) {
  if (std::max({ma.ld, mb.ld, ldc}) > std::numeric_limits<int>::max()) {
    throw KernelError("gemm: a row stride of " + std::to_string(std::max({ma.ld, mb.ld, ldc})) +
                      " elements exceeds the BLAS's 32-bit range");
  }
  // Element offsets of row r / column j of a (m x k), b (k x n) as stored.
  auto a_at = [&](std::int64_t r, std::int64_t j) {
    return ma.transposed ? j * ma.ld + r : r * ma.ld + j;
  };
  auto b_at = [&](std::int64_t r, std::int64_t j) {
    return mb.transposed ? j * mb.ld + r : r * mb.ld + j;
  };
  for (std::int64_t i = 0; i < m; i += limit) {
    const std::int64_t rows = std::min(limit, m - i);
    for (std::int64_t j = 0; j < n; j += limit) {
      const std::int64_t cols = std::min(limit, n - j);
      for (std::int64_t p = 0; p < std::max<std::int64_t>(k, 1); p += limit) {
        const std::int64_t depth = std::min(limit, k - p);
        blas_call<T>(ma, mb, static_cast<int>(rows), static_cast<int>(cols),
                     static_cast<int>(depth), alpha, a + a_at(i, p), b + b_at(p, j),
                     p == 0 ? beta : T(1), c + i * ldc + j, static_cast<int>(ldc));
      }
    }
  }
}
template void blas_gemm_in_pieces<float>(const Matrix&, const Matrix&, std::int64_t, std::int64_t,
                                         std::int64_t, float, const float*, const float*, float,
                                         float*, std::int64_t, std::int64_t);

namespace {

template <typename T>
void blas_gemm(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n, std::int64_t k,
               T alpha, const T* a, const T* b, T beta, T* c, std::int64_t ldc) {
  blas_gemm_in_pieces(ma, mb, m, n, k, alpha, a, b, beta, c, ldc, std::numeric_limits<int>::max());
}

template <typename T>
void naive_gemm(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double alpha,
                double beta, std::int64_t batch) {
  const int r = out.ndim - 2, c = out.ndim - 1;
  const std::int64_t m = out.sizes[r], n = out.sizes[c], k = a.sizes[a.ndim - 1];
  // As PyTorch: the scales are converted to the operands' type first (0.6 is 0 for integers).
  const T scale_a = static_cast<T>(alpha), scale_b = static_cast<T>(beta);
  for (std::int64_t i = 0; i < batch; ++i) {
    auto* o = static_cast<T*>(out.data) + i * batch_stride(out);
    const auto* x = static_cast<const T*>(a.data) + i * batch_stride(a);
    const auto* y = static_cast<const T*>(b.data) + i * batch_stride(b);
    for (std::int64_t p = 0; p < m; ++p) {
      for (std::int64_t q = 0; q < n; ++q) {
        T acc = 0;
        for (std::int64_t t = 0; t < k; ++t) {
          acc += x[p * a.strides[a.ndim - 2] + t * a.strides[a.ndim - 1]] *
                 y[t * b.strides[b.ndim - 2] + q * b.strides[b.ndim - 1]];
        }
        T& dst = o[p * out.strides[r] + q * out.strides[c]];
        dst = beta == 0 ? T(scale_a * acc) : T(scale_b * dst + scale_a * acc);
      }
    }
  }
}

void check_epilogue(const GemmEpilogue& e, const TensorDesc& out) {
  if (e.empty()) return;
  if (out.dtype != DType::Float32 && out.dtype != DType::Float64 && out.dtype != DType::Float16 &&
      out.dtype != DType::BFloat16) {
    throw KernelError("gemm: an epilogue needs a floating-point result");
  }
  const std::int64_t n = out.sizes[out.ndim - 1];
  if (const std::optional<TensorDesc>& b = e.bias) {
    const std::int64_t length = b->ndim > 0 ? b->sizes[b->ndim - 1] : 0;
    if (b->dtype != out.dtype || b->ndim < 1 || b->ndim > 2 || (b->ndim == 2 && b->sizes[0] != 1) ||
        (length != n && length != 1)) {
      throw KernelError("gemm: the epilogue's bias must be a row of the result's dtype");
    }
  }
  if (const std::optional<TensorDesc>& pre = e.pre_activation) {
    bool same = pre->dtype == out.dtype && pre->ndim == out.ndim;
    for (int d = 0; same && d < out.ndim; ++d) same = pre->sizes[d] == out.sizes[d];
    if (!same) throw KernelError("gemm: pre_activation must have the result's shape and dtype");
  }
}

// The epilogue over rows [row, row + rows) and columns [col, col + cols) of product i.
template <typename T>
void finish_block(const GemmEpilogue& e, const TensorDesc& out, std::int64_t i, std::int64_t row,
                  std::int64_t rows, std::int64_t col, std::int64_t cols) {
  const int r = out.ndim - 2, c = out.ndim - 1;
  const TensorDesc* bias = e.bias ? &*e.bias : nullptr;
  const std::int64_t bias_step =
      bias == nullptr || bias->sizes[bias->ndim - 1] == 1 ? 0 : bias->strides[bias->ndim - 1];
  const T scale = static_cast<T>(e.bias_scale);
  const TensorDesc* pre = e.pre_activation ? &*e.pre_activation : nullptr;
  for (std::int64_t p = row; p < row + rows; ++p) {
    T* o = static_cast<T*>(out.data) + i * batch_stride(out) + p * out.strides[r] +
           col * out.strides[c];
    if (bias != nullptr) {
      const T* b = static_cast<const T*>(bias->data) + col * bias_step;
      if (bias_step == 1) {
        for (std::int64_t q = 0; q < cols; ++q) o[q] += scale * b[q];
      } else {
        for (std::int64_t q = 0; q < cols; ++q) o[q] += scale * b[q * bias_step];
      }
    }
    if (pre != nullptr) {
      T* to = static_cast<T*>(pre->data) + i * batch_stride(*pre) + p * pre->strides[r] +
              col * pre->strides[c];
      for (std::int64_t q = 0; q < cols; ++q) to[q * pre->strides[c]] = o[q];
    }
    activate(e.activation, o, cols);
  }
}

}  // namespace

bool gemm_compatible(const TensorDesc& d) {
  const int r = d.ndim - 2, c = d.ndim - 1;
  return d.strides[c] == 1 || d.strides[r] == 1 || d.sizes[c] == 1 || d.sizes[r] == 1;
}

void gemm(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double alpha,
          double beta, const GemmEpilogue& epilogue) {
  if (out.ndim != a.ndim || out.ndim != b.ndim || (out.ndim != 2 && out.ndim != 3)) {
    throw KernelError("gemm: operands must all be 2-D or all 3-D");
  }
  const int r = out.ndim - 2, c = out.ndim - 1;
  const std::int64_t batch = batch_of(out), m = out.sizes[r], n = out.sizes[c], k = a.sizes[c];
  if (a.sizes[r] != m || b.sizes[c] != n || b.sizes[r] != k || batch_of(a) != batch ||
      batch_of(b) != batch) {
    throw KernelError("gemm: operand shapes do not match");
  }
  if (a.dtype != out.dtype || b.dtype != out.dtype)
    throw KernelError("gemm: operand dtypes differ");
  check_epilogue(epilogue, out);
  if (m == 0 || n == 0 || batch == 0) return;

  if (out.dtype == DType::Float16 || out.dtype == DType::BFloat16) {
    // Most 16-bit products (mm, bmm, linear) stay in 16 bits on oneDNN where this CPU has the
    // instructions; the rest widen to float32.
    const bool plain = alpha == 1 && beta == 0 && !epilogue.pre_activation &&
                       epilogue.activation == Activation::None && epilogue.bias_scale == 1;
    if (plain && onednn_gemm16(out, a, b, epilogue.bias ? &*epilogue.bias : nullptr)) return;
    const Float32Copy wa(a, true), wb(b, true), wo(out, beta != 0);
    std::optional<Float32Copy> wbias, wpre;
    GemmEpilogue wide = epilogue;
    if (epilogue.bias) wide.bias = wbias.emplace(*epilogue.bias, true).desc;
    if (epilogue.pre_activation)
      wide.pre_activation = wpre.emplace(*epilogue.pre_activation, false).desc;
    gemm(wo.desc, wa.desc, wb.desc, alpha, beta, wide);
    copy(out, wo.desc);
    if (wpre) copy(*epilogue.pre_activation, wpre->desc);
    return;
  }
  if (out.dtype != DType::Float32 && out.dtype != DType::Float64) {
    visit_dtype(out.dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_same_v<T, bool> || kReducedFloat<T>) {
        throw KernelError("gemm: unsupported dtype");
      } else {
        naive_gemm<T>(out, a, b, alpha, beta, batch);
      }
    });
    return;
  }
  if (!gemm_compatible(a) || !gemm_compatible(b) || !(out.strides[c] == 1 || n == 1)) {
    throw KernelError("gemm: every matrix needs a unit stride");
  }
  const Matrix ma = matrix_of(a), mb = matrix_of(b);
  const std::int64_t ldc = std::max<std::int64_t>({out.strides[r], n, 1});
  visit_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const T* a0 = static_cast<const T*>(a.data);
      const T* b0 = static_cast<const T*>(b.data);
      T* c0 = static_cast<T*>(out.data);
      if (k == 0) {
        for (std::int64_t i = 0; i < batch; ++i) {
          T* o = c0 + i * batch_stride(out);
          for (std::int64_t p = 0; p < m; ++p)
            for (std::int64_t q = 0; q < n; ++q)
              o[p * ldc + q] = beta == 0 ? T(0) : T(beta) * o[p * ldc + q];
          if (!epilogue.empty()) finish_block<T>(epilogue, out, i, 0, m, 0, n);
        }
        return;
      }
      // The library's own threads split the work; OpenBLAS runs single-threaded on each of them
      // (single_threaded_blas.h).
      const SingleThreadedBlas single_threaded;
      auto product = [&](std::int64_t i, std::int64_t row, std::int64_t rows, std::int64_t col,
                         std::int64_t cols) {
        const T* x = a0 + i * batch_stride(a) + row * (ma.transposed ? 1 : ma.ld);
        const T* y = b0 + i * batch_stride(b) + col * (mb.transposed ? mb.ld : 1);
        T* o = c0 + i * batch_stride(out) + row * ldc + col;
        bool done = false;
        if constexpr (std::is_same_v<T, float>)
          done = alpha == 1 && beta == 0 && onednn_sgemm(ma, mb, rows, cols, k, x, y, o, ldc);
        if (!done) blas_gemm<T>(ma, mb, rows, cols, k, T(alpha), x, y, T(beta), o, ldc);
        if (!epilogue.empty()) finish_block<T>(epilogue, out, i, row, rows, col, cols);
      };
      const double multiply_adds = static_cast<double>(batch) * m * n * k;
      const std::int64_t threads = gemm_threads(multiply_adds);
      if (threads > 1 && batch >= threads) {
        parallel_for(batch, 1, [&](std::int64_t first, std::int64_t last) {
          for (std::int64_t i = first; i < last; ++i) product(i, 0, m, 0, n);
        });
        return;
      }
      // One slice per thread along the longer side, when it is long enough.
      const bool split_rows = m >= n;
      const std::int64_t side = split_rows ? m : n;
      const std::int64_t slices = gemm_slices(side, threads);
      for (std::int64_t i = 0; i < batch; ++i) {
        if (slices <= 1) {
          product(i, 0, m, 0, n);
          continue;
        }
        parallel_for(slices, 1, [&](std::int64_t first, std::int64_t last) {
          for (std::int64_t s = first; s < last; ++s) {
            const std::int64_t begin = side * s / slices, end = side * (s + 1) / slices;
            if (split_rows)
              product(i, begin, end - begin, 0, n);
            else
              product(i, 0, m, begin, end - begin);
          }
        });
      }
    }
  });
}

}  // namespace mlu::kernels
