// Native matrix products: mm, addmm, bmm, baddbmm, addmv, dot (and through them matmul, mv and
// linear): matrix-vector and vector-vector products are GEMMs with one column.
#include <ATen/ATen.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/accumulate.h>
#include <torch/library.h>

#include <optional>

#include "common.h"
#include "fused.h"

namespace torch_mlu::ops {
namespace {

// A matrix BLAS can read in place: unit stride in one dim, the other stride covering it.
bool blas_layout(const at::Tensor& t) {
  const int64_t r = t.dim() - 2, c = t.dim() - 1;
  const bool row_major = t.stride(c) == 1 && t.stride(r) >= std::max<int64_t>(1, t.size(c));
  const bool col_major = t.stride(r) == 1 && t.stride(c) >= std::max<int64_t>(1, t.size(r));
  const bool batch_ok = t.dim() == 2 || t.size(0) <= 1 || t.stride(0) != 0;
  return (row_major || col_major) && batch_ok;
}

at::Tensor blas_operand(const at::Tensor& t, c10::ScalarType dtype) {
  at::Tensor x = t.scalar_type() == dtype ? t : t.to(dtype);
  if (blas_layout(x)) return x;
  // An empty tensor counts as contiguous whatever its strides (the real view of a complex one
  // has stride 2): new strides, nothing to copy.
  return x.numel() == 0 ? at::empty(x.sizes(), x.options()) : x.contiguous();
}

// A complex product from four real ones on the real views of the (conjugation-resolved)
// operands: (ar + i ai)(br + i bi) = ar br - ai bi + i (ar bi + ai br).
at::Tensor complex_product(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.resolve_conj(), y = b.resolve_conj();
  const at::Tensor xr = at::real(x), xi = at::imag(x), yr = at::real(y), yi = at::imag(y);
  return at::complex(at::matmul(xr, yr) - at::matmul(xi, yi),
                     at::matmul(xr, yi) + at::matmul(xi, yr));
}

at::Tensor& product_into(const at::Tensor& a, const at::Tensor& b, const at::Tensor* bias,
                         const at::Scalar& beta, const at::Scalar& alpha, at::Tensor& out);

// product_into for complex operands: composed of real products and complex elementwise
// operators (the kernel library's GEMM is real).
at::Tensor& complex_product_into(const at::Tensor& a, const at::Tensor& b, const at::Tensor* bias,
                                 const at::Scalar& beta, const at::Scalar& alpha,
                                 std::vector<int64_t> shape, at::Tensor& out) {
  at::Tensor result = complex_product(a, b);
  if (!alpha.equal(1)) result = result * alpha;
  if (bias != nullptr && !beta.equal(0)) result = result + (beta.equal(1) ? *bias : *bias * beta);
  at::native::resize_output(out, shape);
  return out.copy_(result);
}

// out = beta * bias + alpha * a @ b, with bias broadcast to out (none when beta is 0). beta and
// alpha may be complex numbers when the operands are complex.
at::Tensor& product_into(const at::Tensor& a, const at::Tensor& b, const at::Tensor* bias,
                         const at::Scalar& beta_number, const at::Scalar& alpha_number,
                         at::Tensor& out) {
  const at::Tensor none;
  const c10::Device device = common_device({&a, &b, bias ? bias : &none, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(a.dim() == b.dim() && (a.dim() == 2 || a.dim() == 3),
              "expected 2-D or 3-D matrices, got ", a.dim(), "-D and ", b.dim(), "-D");
  const int64_t k = a.size(-1);
  TORCH_CHECK(b.size(-2) == k, "mat1 and mat2 shapes cannot be multiplied (", a.size(-2), "x", k,
              " and ", b.size(-2), "x", b.size(-1), ")");
  std::vector<int64_t> shape = a.sizes().vec();
  shape.back() = b.size(-1);
  if (a.dim() == 3)
    TORCH_CHECK(a.size(0) == b.size(0), "batch1 and batch2 must have the same batch size");
  const c10::ScalarType dtype =
      out.defined() && out.numel() > 0 ? out.scalar_type() : at::result_type(a, b);
  TORCH_CHECK(a.scalar_type() == b.scalar_type(),
              "expected m1 and m2 to have the same dtype, but got: ", a.scalar_type(),
              " != ", b.scalar_type());
  if (at::isComplexType(dtype)) {
    return complex_product_into(a, b, bias, beta_number, alpha_number, shape, out);
  }
  double beta = beta_number.toDouble();
  const double alpha = alpha_number.toDouble();
  at::native::resize_output(out, shape);
  const bool direct =
      out.stride(-1) == 1 && blas_layout(out) && (out.dim() == 2 || out.stride(0) != 0);
  at::Tensor target = direct ? out : at::empty(shape, out.options());
  // A bias row of the result's dtype is added by the GEMM's epilogue, without a pass of its own.
  hal::GemmEpilogue epilogue;
  if (bias != nullptr && beta != 0) {
    if (bias->dim() == 1 && bias->size(0) == shape.back() && bias->scalar_type() == dtype &&
        bias->device() == device && at::isFloatingType(dtype)) {
      epilogue.bias = describe(*bias);
      epilogue.bias_scale = beta;
    } else {
      target.copy_(operand(*bias, dtype, shape, device));
    }
  }
  if (bias == nullptr || epilogue.bias) beta = 0;
  const at::Tensor x = blas_operand(a, dtype), y = blas_operand(b, dtype);
  launch(target, hal::Gemm{.out = describe(target),
                           .a = describe(x),
                           .b = describe(y),
                           .alpha = alpha,
                           .beta = beta,
                           .epilogue = epilogue});
  if (!target.is_same(out)) out.copy_(target);
  return out;
}

at::Tensor new_product(const at::Tensor& a, const at::Tensor& b) {
  return at::empty({0}, a.options().dtype(at::result_type(a, b)));
}

at::Tensor mm(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor out = new_product(a, b);
  return product_into(a, b, nullptr, 0, 1, out);
}
at::Tensor& mm_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return product_into(a, b, nullptr, 0, 1, out);
}
at::Tensor addmm(const at::Tensor& self, const at::Tensor& a, const at::Tensor& b,
                 const at::Scalar& beta, const at::Scalar& alpha) {
  at::Tensor out = new_product(a, b);
  return product_into(a, b, &self, beta, alpha, out);
}
at::Tensor& addmm_out(const at::Tensor& self, const at::Tensor& a, const at::Tensor& b,
                      const at::Scalar& beta, const at::Scalar& alpha, at::Tensor& out) {
  return product_into(a, b, &self, beta, alpha, out);
}
at::Tensor& addmm_(at::Tensor& self, const at::Tensor& a, const at::Tensor& b,
                   const at::Scalar& beta, const at::Scalar& alpha) {
  return product_into(a, b, &self, beta, alpha, self);
}

// out = beta * self + alpha * mat @ vec, as a product with one column.
at::Tensor& addmv_out(const at::Tensor& self, const at::Tensor& mat, const at::Tensor& vec,
                      const at::Scalar& beta, const at::Scalar& alpha, at::Tensor& out) {
  TORCH_CHECK(mat.dim() == 2 && vec.dim() == 1 && self.dim() <= 1,
              "vector + matrix @ vector expected, got ", self.dim(), ", ", mat.dim(), ", ",
              vec.dim());
  TORCH_CHECK(mat.size(1) == vec.size(0) && (self.numel() == 1 || self.numel() == mat.size(0)),
              "size mismatch, got input (", self.numel(), "), mat (", mat.size(0), "x", mat.size(1),
              "), vec (", vec.size(0), ")");
  at::native::resize_output(out, {mat.size(0)});
  at::Tensor column = out.unsqueeze(1);
  const at::Tensor bias = self.dim() == 1 ? self.unsqueeze(1) : self;
  product_into(mat, vec.unsqueeze(1), &bias, beta, alpha, column);
  return out;
}
at::Tensor addmv(const at::Tensor& self, const at::Tensor& mat, const at::Tensor& vec,
                 const at::Scalar& beta, const at::Scalar& alpha) {
  at::Tensor out = new_product(mat, vec);
  return addmv_out(self, mat, vec, beta, alpha, out);
}
at::Tensor& addmv_(at::Tensor& self, const at::Tensor& mat, const at::Tensor& vec,
                   const at::Scalar& beta, const at::Scalar& alpha) {
  TORCH_CHECK(self.dim() == 1 && self.size(0) == mat.size(0), "addmv_: expected self of shape [",
              mat.size(0), "], got ", self.sizes());
  return addmv_out(self, mat, vec, beta, alpha, self);
}

// The dot product of two vectors, a 1 x n by n x 1 product.
at::Tensor dot(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() == 1 && b.dim() == 1, "1D tensors expected, but got ", a.dim(), "D and ",
              b.dim(), "D tensors");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(),
              "dot : expected both vectors to have same dtype, but found ", a.scalar_type(),
              " and ", b.scalar_type());
  TORCH_CHECK(a.numel() == b.numel(), "inconsistent tensor size, expected tensor [", a.numel(),
              "] and src [", b.numel(), "] to have the same number of elements, but got ",
              a.numel(), " and ", b.numel(), " elements respectively");
  at::Tensor out = at::empty({1, 1}, a.options());
  product_into(a.unsqueeze(0), b.unsqueeze(1), nullptr, 0, 1, out);
  return out.view(c10::IntArrayRef{});  // 0-d (a braced {} would pick view(dtype))
}

// conj(a) . b: dot for real dtypes.
at::Tensor vdot(const at::Tensor& a, const at::Tensor& b) {
  return ops::dot(a.is_complex() ? a.conj() : a, b);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("mm", mm);
  m.impl("mm.out", mm_out);
  m.impl("bmm", mm);
  m.impl("bmm.out", mm_out);
  m.impl("addmm", addmm);
  m.impl("addmm.out", addmm_out);
  m.impl("addmm_", addmm_);
  m.impl("baddbmm", addmm);
  m.impl("baddbmm.out", addmm_out);
  m.impl("baddbmm_", addmm_);
  m.impl("addmv", addmv);
  m.impl("addmv.out", addmv_out);
  m.impl("addmv_", addmv_);
  m.impl("dot", dot);
  m.impl("vdot", vdot);
}

}  // namespace

// torch_mlu::linear_act (fused.cpp): activation(input @ weight.T + bias) in one GEMM, the bias and
// the activation applied to each block of the product while it is in cache.
std::tuple<at::Tensor, at::Tensor> linear_act_on_device(const at::Tensor& input,
                                                        const at::Tensor& weight,
                                                        const std::optional<at::Tensor>& bias_opt,
                                                        c10::string_view activation,
                                                        bool keep_pre_activation) {
  const at::Tensor bias = bias_opt.value_or(at::Tensor());
  const hal::Activation act = activation_named(activation).activation;
  const c10::Device device = common_device({&input, &weight, &bias});
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype = input.scalar_type();
  TORCH_CHECK(at::isFloatingType(dtype), "linear_act: expected a floating-point input, got ",
              dtype);
  TORCH_CHECK(weight.scalar_type() == dtype && (!bias.defined() || bias.scalar_type() == dtype),
              "linear_act: input, weight and bias must share a dtype, got ", dtype, ", ",
              weight.scalar_type(), (bias.defined() ? ", " : ""),
              (bias.defined() ? c10::toString(bias.scalar_type()) : ""));
  TORCH_CHECK(input.dim() >= 1 && weight.dim() == 2 && input.size(-1) == weight.size(1),
              "linear_act: input of shape ", input.sizes(), " and weight of shape ", weight.sizes(),
              " cannot be multiplied");
  const int64_t k = weight.size(1), n = weight.size(0);
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == n),
              "linear_act: expected a bias of shape [", n, "], got ", bias.sizes());
  std::vector<int64_t> shape = input.sizes().vec();
  shape.back() = n;
  const int64_t m = c10::multiply_integers(input.sizes().begin(), input.sizes().end() - 1);
  const at::Tensor x = blas_operand(input.reshape({m, k}), dtype);
  const at::Tensor w = blas_operand(weight, dtype).t();
  at::Tensor out = at::empty({m, n}, input.options());
  at::Tensor pre = at::empty({keep_pre_activation ? m : 0, n}, input.options());
  hal::GemmEpilogue epilogue{.activation = act};
  if (bias.defined()) epilogue.bias = describe(bias);
  if (keep_pre_activation) epilogue.pre_activation = describe(pre);
  launch(out, hal::LinearAct{describe(out), describe(x), describe(w), epilogue});
  return {out.view(shape), keep_pre_activation ? pre.view(shape) : pre};
}

}  // namespace torch_mlu::ops
