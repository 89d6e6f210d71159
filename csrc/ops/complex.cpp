// Complex tensors: the interleaved views (view_as_real / view_as_complex), conj_physical,
// torch.complex and torch.polar, and the complex arithmetic of the elementwise operators.
#include "complex.h"

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/native/Resize.h>
#include <ATen/ops/view_as_complex_native.h>
#include <ATen/ops/view_as_real_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>

#include "common.h"

namespace torch_mlu::ops {

using hal::BinaryOp;
using hal::UnaryOp;

at::Tensor& complex_binary_into(BinaryOp op, const at::Tensor& a, const at::Tensor& b,
                                at::Tensor& out, double alpha) {
  hal::ComplexBinaryOp complex_op{};
  switch (op) {
    case BinaryOp::Add: complex_op = hal::ComplexBinaryOp::Add; break;
    case BinaryOp::Sub: complex_op = hal::ComplexBinaryOp::Sub; break;
    case BinaryOp::Mul: complex_op = hal::ComplexBinaryOp::Mul; break;
    case BinaryOp::Div: complex_op = hal::ComplexBinaryOp::Div; break;
    default:
      TORCH_CHECK_NOT_IMPLEMENTED(false,
                                  "complex tensors on mlu support add, sub, mul and div among "
                                  "the binary operators; got complex operands (",
                                  a.scalar_type(), ", ", b.scalar_type(), ") for another one");
  }
  const c10::Device device = common_device({&a, &b, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(a.sizes(), b.sizes());
  prepare_out(out, shape, at::result_type(a, b), device);
  check_overlap(out, {&a, &b});
  // Kernels write a complex out; a real one (allowed only for real operands) never gets here.
  const c10::ScalarType dtype = out.scalar_type();
  TORCH_CHECK(out.is_complex(), "result type ", at::result_type(a, b),
              " can't be cast to the desired output type ", dtype);
  const at::Tensor x = operand(a, dtype, shape, device).resolve_conj();
  const at::Tensor y = operand(b, dtype, shape, device).resolve_conj();
  launch(out, hal::ComplexBinary{complex_op, describe_interleaved(out), describe_interleaved(x),
                                 describe_interleaved(y), alpha});
  return out;
}

namespace {

// op(self) (to_real: |self|, op unused) into given_out, or a new result when it is undefined.
at::Tensor complex_unary_into(hal::ComplexUnaryOp op, bool to_real, const at::Tensor& self,
                              const at::Tensor& given_out) {
  const c10::Device device = common_device({&self, &given_out});
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype =
      to_real ? c10::toRealValueType(self.scalar_type()) : self.scalar_type();
  at::Tensor out = given_out;
  if (out.defined()) {
    TORCH_CHECK(!(to_real && out.is_same(self)),
                "In-place abs is not supported for complex tensors.");
    TORCH_CHECK(out.scalar_type() == dtype, "the result of ", self.scalar_type(), " here is ",
                dtype, ", but out is ", out.scalar_type());
    prepare_out(out, self.sizes(), dtype, device);
    check_overlap(out, {&self});
  } else {
    out = at::empty(self.sizes(), self.options().dtype(dtype));
  }
  const at::Tensor in = self.resolve_conj();
  if (to_real) {
    launch(out, hal::ComplexAbs{describe(out), describe_interleaved(in)});
  } else {
    launch(out, hal::ComplexUnary{op, describe_interleaved(out), describe_interleaved(in)});
  }
  return out;
}

}  // namespace

at::Tensor complex_unary(UnaryOp op, const at::Tensor& self, const at::Tensor& out) {
  switch (op) {
    case UnaryOp::Abs: return complex_unary_into({}, true, self, out);
    case UnaryOp::Neg: return complex_unary_into(hal::ComplexUnaryOp::Neg, false, self, out);
    case UnaryOp::Reciprocal:
      return complex_unary_into(hal::ComplexUnaryOp::Reciprocal, false, self, out);
    case UnaryOp::Exp: return complex_unary_into(hal::ComplexUnaryOp::Exp, false, self, out);
    case UnaryOp::Sign:
      TORCH_CHECK(false,
                  "Unlike NumPy, torch.sign is not intended to support complex numbers. Please "
                  "use torch.sgn instead.");
    default:
      TORCH_CHECK_NOT_IMPLEMENTED(false,
                                  "complex tensors on mlu support neg, abs, sgn, reciprocal and "
                                  "exp among the unary operators; got a ",
                                  self.scalar_type(), " tensor for another one");
  }
}

at::Tensor complex_sgn(const at::Tensor& self, const at::Tensor& out) {
  return complex_unary_into(hal::ComplexUnaryOp::Sgn, false, self, out);
}

namespace {

// conj_physical of a real tensor is a copy, as on CPU.
at::Tensor& conj_physical_out(const at::Tensor& self, at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  prepare_out(out, self.sizes(), self.scalar_type(), device);
  if (!self.is_complex()) return out.copy_(self);
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "conj_physical: out is ", out.scalar_type(),
              " for a ", self.scalar_type(), " input");
  check_overlap(out, {&self});
  const at::Tensor in = self.resolve_conj();
  launch(out, hal::ComplexUnary{hal::ComplexUnaryOp::Conj, describe_interleaved(out),
                                describe_interleaved(in)});
  return out;
}

// torch.complex(real, imag) and torch.polar(abs, angle) into out.
at::Tensor& from_parts_out(bool polar, const at::Tensor& first, const at::Tensor& second,
                           at::Tensor& out) {
  const char* name = polar ? "polar" : "complex";
  const c10::ScalarType type = first.scalar_type();
  TORCH_CHECK(type == c10::kFloat || type == c10::kDouble,
              "Expected both inputs to be Half, "
              "Float or Double tensors but got ",
              type, " and ", second.scalar_type(), " (", name, " on mlu: float32 and float64)");
  TORCH_CHECK(second.scalar_type() == type, "Expected object of scalar type ", type,
              " but got scalar type ", second.scalar_type(), " for second argument");
  const c10::ScalarType complex_type = c10::toComplexType(type);
  TORCH_CHECK(out.scalar_type() == complex_type, "Expected object of scalar type ", complex_type,
              " but got scalar type ", out.scalar_type(), " for argument 'out'");
  const c10::Device device = common_device({&first, &second, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(first.sizes(), second.sizes());
  prepare_out(out, shape, complex_type, device);
  check_overlap(out, {&first, &second});
  const at::Tensor x = operand(first, type, shape, device);
  const at::Tensor y = operand(second, type, shape, device);
  if (polar) {
    launch(out, hal::Polar{describe_interleaved(out), describe(x), describe(y)});
  } else {
    launch(out, hal::ComplexFromParts{describe_interleaved(out), describe(x), describe(y)});
  }
  return out;
}
at::Tensor& complex_out(const at::Tensor& real, const at::Tensor& imag, at::Tensor& out) {
  return from_parts_out(false, real, imag, out);
}
at::Tensor& polar_out(const at::Tensor& abs, const at::Tensor& angle, at::Tensor& out) {
  return from_parts_out(true, abs, angle, out);
}

// The argument of a complex number, atan2(imag, real); of a real one, pi for negatives, 0
// otherwise and NaN for NaN, as on the CPU. Composed of native operators.
at::Tensor angle(const at::Tensor& self) {
  c10::DeviceGuard guard(self.device());
  if (self.is_complex()) {
    const at::Tensor z = self.resolve_conj();
    return at::atan2(at::imag(z), at::real(z));
  }
  const at::Tensor x = self.to(floating_type(self.scalar_type()));
  const at::Tensor half_turns =
      at::where(x < 0, at::scalar_tensor(M_PI, x.options()), at::scalar_tensor(0.0, x.options()));
  return at::where(x.isnan(), x, half_turns);
}
at::Tensor& angle_out(const at::Tensor& self, at::Tensor& out) {
  const at::Tensor result = ops::angle(self);
  at::native::resize_output(out, result.sizes());
  return out.copy_(result);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("angle", angle);
  m.impl("angle.out", angle_out);
  m.impl("view_as_real", at::native::view_as_real);
  m.impl("view_as_complex", at::native::view_as_complex);
  m.impl("conj_physical.out", conj_physical_out);
  m.impl("complex.out", complex_out);
  m.impl("polar.out", polar_out);
}

}  // namespace
}  // namespace torch_mlu::ops
