// Kernels on complex tensors and the FFT, on interleaved descriptors (mlu/ops/complex.h).
#pragma once

#include <vector>

#include "mlu/ops/complex.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void complex_unary(ComplexUnaryOp op, const TensorDesc& out, const TensorDesc& in);

// A real result of a complex input: out is real, with in's shape without the last dimension.
enum class ComplexToRealOp { Abs, Angle };
void complex_to_real(ComplexToRealOp op, const TensorDesc& out, const TensorDesc& in);

// out = complex(re, im) (polar: abs * (cos(angle), sin(angle))); re and im are real tensors of
// out's shape without the last dimension.
void complex_from_parts(bool polar, const TensorDesc& out, const TensorDesc& re,
                        const TensorDesc& im);

void complex_binary(ComplexBinaryOp op, const TensorDesc& out, const TensorDesc& a,
                    const TensorDesc& b, double alpha_re = 1, double alpha_im = 0);

// Discrete Fourier transforms over dims (of the complex shape, without the interleaved last
// dimension) with the result multiplied by scale. out must not overlap in.
//   c2c: complex to complex, forward (exponent -1) or backward (+1).
//   r2c: real in, complex out of in's shape with the last of dims halved to n / 2 + 1 (forward).
//   c2r: complex in holding n / 2 + 1 along the last of dims, real out of n there (backward).
void fft_c2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             bool forward, double scale);
void fft_r2c(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale);
void fft_c2r(const TensorDesc& out, const TensorDesc& in, const std::vector<int>& dims,
             double scale);

}  // namespace mlu::kernels
