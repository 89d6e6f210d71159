// Elementwise kernels: the implementation of mlu/ops/elementwise.h's operations.
#pragma once

#include "mlu/ops/elementwise.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void unary(UnaryOp op, const TensorDesc& out, const TensorDesc& in, double param = 0);
void binary(BinaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
            double alpha = 1);
void binary_scalar(BinaryOp op, const TensorDesc& out, const TensorDesc& a, double b,
                   double alpha = 1);
void ternary(TernaryOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
             const TensorDesc& c, double value = 1);
void lerp_scalar(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, double weight);
void elu(const TensorDesc& out, const TensorDesc& in, double alpha, double scale,
         double input_scale);
void elu_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                  double alpha, double scale, double input_scale, bool x_is_result);
void softplus(const TensorDesc& out, const TensorDesc& in, double beta, double threshold);
void softplus_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double beta, double threshold);
void hardtanh_backward(const TensorDesc& grad_in, const TensorDesc& grad_out, const TensorDesc& x,
                       double min, double max);
void compare(CompareOp op, const TensorDesc& out, const TensorDesc& a, const TensorDesc& b);
void where(const TensorDesc& out, const TensorDesc& cond, const TensorDesc& a, const TensorDesc& b);
// A null bound is absent.
void clamp(const TensorDesc& out, const TensorDesc& in, const double* lo, const double* hi);

}  // namespace mlu::kernels
