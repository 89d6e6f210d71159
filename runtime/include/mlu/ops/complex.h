// Operations on complex tensors and the FFT. A complex tensor is described by its interleaved
// real view (PyTorch's view_as_real): dtype float32 or float64 and a last dimension of size 2 and
// stride 1 holding the real and the imaginary part, as cuFFT and CNNL lay complex numbers out.
// Elementwise operands have out's shape (broadcast ones with stride 0) and out's dtype.
#pragma once

#include <vector>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

enum class ComplexUnaryOp {
  Conj,
  Neg,
  Reciprocal,
  Sgn,  // z / |z|, 0 for 0
  Exp,
};

enum class ComplexBinaryOp {
  Add,  // a + alpha * b
  Sub,  // a - alpha * b
  Mul,
  Div,
};

struct ComplexUnary {
  static constexpr const char* name = "complex_unary";
  ComplexUnaryOp op;
  TensorDesc out, in;
};

// |in|: out is real, with in's shape without the last dimension.
struct ComplexAbs {
  static constexpr const char* name = "complex_abs";
  TensorDesc out, in;
};

// out = complex(real, imag); real and imag are real tensors of out's shape without the last
// dimension.
struct ComplexFromParts {
  static constexpr const char* name = "complex";
  TensorDesc out, real, imag;
};
// out = abs * (cos(angle), sin(angle)), with ComplexFromParts' shapes.
struct Polar {
  static constexpr const char* name = "polar";
  TensorDesc out, abs, angle;
};

struct ComplexBinary {
  static constexpr const char* name = "complex_binary";
  ComplexBinaryOp op;
  TensorDesc out, a, b;
  double alpha_re = 1, alpha_im = 0;
};

// Discrete Fourier transforms over dims (of the complex shape, without the interleaved last
// dimension) with the result multiplied by scale. out must not overlap in.
// Complex to complex, forward (exponent -1) or backward (+1).
struct FftC2C {
  static constexpr const char* name = "fft_c2c";
  TensorDesc out, in;
  std::vector<int> dims;
  bool forward;
  double scale;
};
// Real in, complex out of in's shape with the last of dims halved to n / 2 + 1 (forward).
struct FftR2C {
  static constexpr const char* name = "fft_r2c";
  TensorDesc out, in;
  std::vector<int> dims;
  double scale;
};
// Complex in holding n / 2 + 1 along the last of dims, real out of n there (backward).
struct FftC2R {
  static constexpr const char* name = "fft_c2r";
  TensorDesc out, in;
  std::vector<int> dims;
  double scale;
};

void enqueue(Queue* queue, const ComplexUnary& op);
void enqueue(Queue* queue, const ComplexAbs& op);
void enqueue(Queue* queue, const ComplexFromParts& op);
void enqueue(Queue* queue, const Polar& op);
void enqueue(Queue* queue, const ComplexBinary& op);
void enqueue(Queue* queue, const FftC2C& op);
void enqueue(Queue* queue, const FftR2C& op);
void enqueue(Queue* queue, const FftC2R& op);

}  // namespace mlu::hal
