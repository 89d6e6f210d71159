// Elementwise kernels. Operands have out's shape (broadcast sources use stride 0) and, unless
// stated, out's dtype; float16 and bfloat16 compute in float32.
#pragma once

#include "mlu/ops/elementwise.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void unary(UnaryOp op, const TensorDesc& out, const TensorDesc& in, double param = 0);
void binary(BinaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
            double alpha = 1);
// binary with b a number rather than a tensor, converted to the compute type (float for the
// 16-bit types) instead of out's dtype: PyTorch CPU's semantics for Python-number factors and
// divisors.
void binary_scalar(BinaryOp op, const TensorDesc& out, const TensorDesc& a, double b,
                   double alpha = 1);
void ternary(TernaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
             const TensorDesc& c, double value = 1);
// a + weight * (b - a) in PyTorch's form, exact at both ends; the weight is a number in the
// compute type (as PyTorch CPU keeps a Python-number weight), floating types only.
void lerp_scalar(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double weight);
// Activations with several parameters, as PyTorch defines them (floating types):
// elu: x > 0 ? scale * x : scale * alpha * (exp(input_scale * x) - 1) (also celu and selu);
// softplus: beta * x > threshold ? x : log1p(exp(beta * x)) / beta.
void elu(const TensorDesc& out, const TensorDesc& in, double alpha, double scale,
         double input_scale);
// x is the input, or the result when x_is_result.
void elu_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                  double alpha, double scale, double input_scale, bool x_is_result);
void softplus(const TensorDesc& out, const TensorDesc& in, double beta, double threshold);
void softplus_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double beta, double threshold);
// hardtanh's gradient: 0 where x <= min or x >= max.
void hardtanh_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double min, double max);
// out is bool; a and b share a dtype.
void compare(CompareOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b);
// out = cond ? a : b; cond is bool.
void where(const TensorDesc& out, const TensorDesc& cond, const TensorDesc& a, const TensorDesc& b);
// out = clamp(in, lo, hi), either bound optional.
void clamp(const TensorDesc& out, const TensorDesc& in, const double* lo, const double* hi);

}  // namespace mlu::kernels
