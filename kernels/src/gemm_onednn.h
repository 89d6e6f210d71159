// Matrix products on oneDNN's matmul (internal to the kernel library: gemm.cpp, lstm.cpp).
#pragma once

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>

#include "gemm_pieces.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// out = a @ b (+ bias, a row of out's dtype) for float16 or bfloat16 operands of out's dtype,
// 2-D or 3-D, read and written in 16 bits with float32 accumulation, on the CPU's 16-bit matrix
// instructions (AMX, AVX512-BF16, AVX512-FP16). Returns false, having done nothing, when oneDNN
// has no implementation for these operands on this CPU other than its slow reference one, or
// when the product is too small to gain from it.
bool onednn_gemm16(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                   const TensorDesc* bias);

// out = a @ b (out += a @ b when accumulate) for float16 or bfloat16 operands of one dtype and a
// float32 out, 2-D or 3-D, accumulating in float32 on the CPU's AMX tiles; split across the kernel
// threads when large. Returns false, having done nothing, where oneDNN would not run it on AMX.
bool amx_product(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, bool accumulate);

// Whether amx_product runs products of this dtype (Float16 or BFloat16) on this CPU.
bool amx_products(DType dtype);

struct MatmulPlan;

// A [rows, cols] matrix of dtype at data whose rows are ld elements apart or, when transposed, the
// transpose of [cols, rows] rows ld apart: the operands AmxStepProduct and amx_product take.
inline TensorDesc matrix_desc(DType dtype, const void* data, std::int64_t rows, std::int64_t cols,
                              std::int64_t ld, bool transposed) {
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = 2;
  d.sizes[0] = rows;
  d.sizes[1] = cols;
  d.strides[0] = transposed ? 1 : ld;
  d.strides[1] = transposed ? ld : 1;
  d.data = const_cast<void*>(data);
  return d;
}

// amx_product for one shape run many times on the calling thread (an LSTM's steps): the plan and
// oneDNN's memory objects are made once, so that a run costs little more than the product
// (looking them up and making them per call took 2.5 of an lstm_lm step product's 8.5 us).
class AmxStepProduct {
 public:
  // Null where oneDNN would not run it on AMX. The operands' addresses are run()'s.
  static std::unique_ptr<AmxStepProduct> make(const TensorDesc& out, const TensorDesc& a,
                                              const TensorDesc& b, bool accumulate);
  ~AmxStepProduct();
  void run(void* out, const void* a, const void* b);

 private:
  static constexpr std::size_t kScratchpadAlignment = 64;
  explicit AmxStepProduct(std::shared_ptr<const MatmulPlan> plan);
  std::shared_ptr<const MatmulPlan> plan_;
  std::vector<char> scratchpad_;
  std::unordered_map<int, dnnl::memory> args_;
};

// c = a @ b in float32 (m x n, row stride ldc) on the calling thread alone, on oneDNN's brgemm
// kernels. Returns false, having done nothing, for products too small to gain from them, or
// where oneDNN has no brgemm kernel for them (AVX2-only hosts: its other float32 kernels are not
// faster than OpenBLAS).
bool onednn_sgemm(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n,
                  std::int64_t k, const float* a, const float* b, float* c, std::int64_t ldc);

}  // namespace mlu::kernels
