// Complex kernels and the FFT on interleaved descriptors: values against direct formulas and a
// naive DFT, empty tensors, and descriptors the kernels refuse.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "desc.h"
#include "mlu_kernels/complex.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;
using cd = std::complex<double>;

// n complex numbers as an interleaved (n, 2) float64 descriptor.
TensorDesc interleaved(std::vector<double>& parts, std::int64_t n) {
  return contiguous(DType::Float64, parts, {n, 2});
}

std::vector<double> parts_of(const std::vector<cd>& values) {
  std::vector<double> parts;
  for (cd z : values) {
    parts.push_back(z.real());
    parts.push_back(z.imag());
  }
  return parts;
}

TEST(Complex, BinaryOperationsMatchTheirFormulas) {
  const std::vector<cd> a{{1, 2}, {-3, 0.5}, {0, 0}}, b{{3, -1}, {2, 4}, {1e300, 1e300}};
  std::vector<double> pa = parts_of(a), pb = parts_of(b), out(6);
  complex_binary(ComplexBinaryOp::Mul, interleaved(out, 3), interleaved(pa, 3), interleaved(pb, 3));
  EXPECT_EQ(out[0], 1 * 3 - 2 * -1);
  EXPECT_EQ(out[1], 1 * -1 + 2 * 3);
  complex_binary(ComplexBinaryOp::Div, interleaved(out, 3), interleaved(pa, 3), interleaved(pb, 3));
  const cd quotient = a[1] / b[1];
  EXPECT_NEAR(out[2], quotient.real(), 1e-15);
  EXPECT_NEAR(out[3], quotient.imag(), 1e-15);
  EXPECT_EQ(out[4], 0.0);  // 0 / (1e300 + 1e300i): scaling keeps |b|^2 from overflowing
  complex_binary(ComplexBinaryOp::Sub, interleaved(out, 3), interleaved(pa, 3), interleaved(pb, 3),
                 0, 1);  // a - i * b
  EXPECT_EQ(out[0], 1 - 1);
  EXPECT_EQ(out[1], 2 - 3);
}

TEST(Complex, AbsSgnAndPolar) {
  std::vector<double> in = parts_of({{3, 4}, {0, 0}}), out(4), magnitude(2);
  complex_to_real(ComplexToRealOp::Abs, contiguous(DType::Float64, magnitude, {2}),
                  interleaved(in, 2));
  EXPECT_EQ(magnitude, (std::vector<double>{5, 0}));
  complex_unary(ComplexUnaryOp::Sgn, interleaved(out, 2), interleaved(in, 2));
  EXPECT_EQ(out, (std::vector<double>{0.6, 0.8, 0, 0}));
  std::vector<double> r{2}, theta{std::numbers::pi / 2}, z(2);
  complex_from_parts(true, interleaved(z, 1), contiguous(DType::Float64, r, {1}),
                     contiguous(DType::Float64, theta, {1}));
  EXPECT_NEAR(z[0], 0, 1e-15);
  EXPECT_NEAR(z[1], 2, 1e-15);
}

TEST(Complex, EmptyTensorsAreNoOps) {
  std::vector<double> none;
  TensorDesc empty = contiguous(DType::Float64, none, {0, 10, 3, 2});
  complex_binary(ComplexBinaryOp::Add, empty, empty, empty);
  complex_unary(ComplexUnaryOp::Exp, empty, empty);
  TensorDesc real = contiguous(DType::Float64, none, {0, 10, 3});
  complex_from_parts(false, empty, real, real);
  complex_to_real(ComplexToRealOp::Angle, real, empty);
}

TEST(Complex, RefusesDescriptorsThatAreNotInterleaved) {
  std::vector<double> parts(6);
  const TensorDesc three_wide = contiguous(DType::Float64, parts, {2, 3});
  EXPECT_THROW(complex_unary(ComplexUnaryOp::Neg, three_wide, three_wide), KernelError);
  std::vector<int> integers(4);
  const TensorDesc ints = contiguous(DType::Int32, integers, {2, 2});
  EXPECT_THROW(complex_unary(ComplexUnaryOp::Neg, ints, ints), KernelError);
}

std::vector<cd> naive_dft(const std::vector<cd>& x, int sign) {
  const std::size_t n = x.size();
  std::vector<cd> y(n);
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t j = 0; j < n; ++j) {
      y[k] += x[j] * std::polar(1.0, sign * 2 * std::numbers::pi * double(j * k) / double(n));
    }
  }
  return y;
}

TEST(Fft, ComplexAndRealTransformsMatchANaiveDft) {
  std::vector<cd> x;
  for (int j = 0; j < 12; ++j) x.emplace_back(std::sin(j * 0.7), j % 3 == 0 ? 0.0 : 1.0 / j);
  std::vector<double> in = parts_of(x), out(24);
  fft_c2c(interleaved(out, 12), interleaved(in, 12), {0}, true, 1.0);
  const std::vector<cd> expected = naive_dft(x, -1);
  for (int k = 0; k < 12; ++k) {
    EXPECT_NEAR(out[2 * k], expected[k].real(), 1e-12);
    EXPECT_NEAR(out[2 * k + 1], expected[k].imag(), 1e-12);
  }
  // The real parts alone: r2c gives the first 7 bins, c2r (scaled by 1/n) the signal back.
  std::vector<double> signal(12), half(14), back(12);
  for (int j = 0; j < 12; ++j) signal[j] = x[j].real();
  fft_r2c(interleaved(half, 7), contiguous(DType::Float64, signal, {12}), {0}, 1.0);
  std::vector<cd> real_signal(signal.begin(), signal.end());
  const std::vector<cd> spectrum = naive_dft(real_signal, -1);
  for (int k = 0; k < 7; ++k) {
    EXPECT_NEAR(half[2 * k], spectrum[k].real(), 1e-12);
    EXPECT_NEAR(half[2 * k + 1], spectrum[k].imag(), 1e-12);
  }
  fft_c2r(contiguous(DType::Float64, back, {12}), interleaved(half, 7), {0}, 1.0 / 12);
  for (int j = 0; j < 12; ++j) EXPECT_NEAR(back[j], signal[j], 1e-12);
}

TEST(Fft, BatchesLargeEnoughToSplitGiveEveryRowItsOwnTransform) {
  const int rows = 300, n = 512;  // 153600 outputs: split over the kernel threads
  std::vector<float> in(rows * n), out(rows * (n / 2 + 1) * 2);
  for (int r = 0; r < rows; ++r) in[r * n + r % n] = 1;  // row r: an impulse at r
  fft_r2c(contiguous(DType::Float32, out, {rows, n / 2 + 1, 2}),
          contiguous(DType::Float32, in, {rows, n}), {1}, 1.0);
  for (int r : {0, 1, 150, 299}) {
    for (int k : {0, 1, 100}) {
      const std::complex<double> expected = std::polar(1.0, -2 * std::numbers::pi * r * k / n);
      const float* bin = &out[(r * (n / 2 + 1) + k) * 2];
      EXPECT_NEAR(bin[0], expected.real(), 1e-5);
      EXPECT_NEAR(bin[1], expected.imag(), 1e-5);
    }
  }
}

TEST(Fft, RefusesMismatchedShapesAndDims) {
  std::vector<double> in(16), out(16);
  EXPECT_THROW(fft_c2c(interleaved(out, 8), interleaved(in, 8), {1}, true, 1.0), KernelError);
  EXPECT_THROW(fft_c2c(interleaved(out, 8), interleaved(in, 8), {}, true, 1.0), KernelError);
  EXPECT_THROW(fft_r2c(interleaved(out, 8), contiguous(DType::Float64, in, {8}), {0}, 1.0),
               KernelError);  // out must hold 8 / 2 + 1 = 5 bins
}

}  // namespace
}  // namespace mlu::kernels
