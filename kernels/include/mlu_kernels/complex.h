// Complex and FFT kernels: the implementation of mlu/ops/complex.h's operations.
#pragma once

#include <vector>

#include "mlu/ops/complex.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void complex_unary(ComplexUnaryOp op, const TensorDesc& out, const TensorDesc& in);

// A real result of a complex input: out is real, with in's shape without the last dimension.
enum class ComplexToRealOp { Abs, Angle };
void complex_to_real(ComplexToRealOp op, const TensorDesc& out, const TensorDesc& in);

// ComplexFromParts, or Polar when polar (re and im then being abs and angle).
void complex_from_parts(bool polar, const TensorDesc& out, const TensorDesc& re,
                        const TensorDesc& im);

void complex_binary(ComplexBinaryOp op, const TensorDesc& out, const TensorDesc& a,
                    const TensorDesc& b, double alpha_re = 1, double alpha_im = 0);

void fft_c2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             bool forward, double scale);
void fft_r2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale);
void fft_c2r(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale);

}  // namespace mlu::kernels
