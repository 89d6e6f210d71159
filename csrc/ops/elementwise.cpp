// Native elementwise operators: broadcasting and type promotion here, the arithmetic the device's
// elementwise operations (mlu/ops/elementwise.h), enqueued on the current stream.
#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Operators.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <limits>

#include "common.h"
#include "complex.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

using hal::BinaryOp;
using hal::CompareOp;
using hal::UnaryOp;

// ---- unary -----------------------------------------------------------------------------------

// Operations defined only for floating point promote integral inputs, as ATen does.
bool promotes_to_float(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
    case UnaryOp::Abs:
    case UnaryOp::Relu:
    case UnaryOp::Sign:
    case UnaryOp::LogicalNot:
    case UnaryOp::BitwiseNot:
    case UnaryOp::ClampMin:
    case UnaryOp::ClampMax:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Trunc: return false;
    default: return true;
  }
}

void launch_unary(UnaryOp op, const at::Tensor& out, const at::Tensor& in, double param) {
  launch(out, hal::Unary{op, describe(out), describe(in), param});
}

c10::ScalarType unary_result_type(UnaryOp op, const at::Tensor& self) {
  if (op == UnaryOp::LogicalNot) return at::kBool;
  return promotes_to_float(op) ? floating_type(self.scalar_type()) : self.scalar_type();
}

at::Tensor& unary_into(UnaryOp op, const at::Tensor& self, at::Tensor& out, double param) {
  if (self.is_complex()) {
    complex_unary(op, self, out);
    return out;
  }
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  // An in-place sqrt_ on integers is refused here, as the result type cannot be stored.
  prepare_out(out, self.sizes(), unary_result_type(op, self), device);
  check_overlap(out, {&self});
  const at::Tensor in = operand(self, out.scalar_type(), out.sizes(), device);
  launch_unary(op, out, in, param);
  return out;
}

at::Tensor unary_new(UnaryOp op, const at::Tensor& self, double param) {
  if (self.is_complex()) return complex_unary(op, self, at::Tensor());
  const c10::Device device = common_device({&self});
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype = unary_result_type(op, self);
  at::Tensor out = new_output(self.sizes(), dtype, self, device);
  launch_unary(op, out, operand(self, dtype, self.sizes(), device), param);
  return out;
}

template <UnaryOp op>
at::Tensor unary_fn(const at::Tensor& self) {
  return unary_new(op, self, 0);
}
template <UnaryOp op>
at::Tensor& unary_inplace(at::Tensor& self) {
  return unary_into(op, self, self, 0);
}
template <UnaryOp op>
at::Tensor& unary_out(const at::Tensor& self, at::Tensor& out) {
  return unary_into(op, self, out, 0);
}

// sgn is sign for real tensors and z / |z| for complex ones.
at::Tensor sgn(const at::Tensor& self) {
  return self.is_complex() ? complex_sgn(self, at::Tensor()) : unary_new(UnaryOp::Sign, self, 0);
}
at::Tensor& sgn_out(const at::Tensor& self, at::Tensor& out) {
  if (!self.is_complex()) return unary_into(UnaryOp::Sign, self, out, 0);
  complex_sgn(self, out);
  return out;
}
at::Tensor& sgn_(at::Tensor& self) { return ops::sgn_out(self, self); }

// ---- binary ----------------------------------------------------------------------------------

enum class Promotion { Default, TrueDivide };

c10::ScalarType binary_type(const at::Tensor& a, const at::Tensor& b, Promotion promotion) {
  const c10::ScalarType type = at::result_type(a, b);
  return promotion == Promotion::TrueDivide ? floating_type(type) : type;
}

at::Tensor binary_new(BinaryOp op, const at::Tensor& a, const at::Tensor& b, double alpha,
                      Promotion promotion = Promotion::Default);

at::Tensor& binary_into(BinaryOp op, const at::Tensor& a, const at::Tensor& b, at::Tensor& out,
                        double alpha, Promotion promotion = Promotion::Default) {
  if (a.is_complex() || b.is_complex() || out.is_complex()) {
    return complex_binary_into(op, a, b, out, alpha);
  }
  const c10::Device device = common_device({&a, &b, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(a.sizes(), b.sizes());
  const c10::ScalarType compute = binary_type(a, b, promotion);
  prepare_out(out, shape, compute, device);
  check_overlap(out, {&a, &b});
  if (out.scalar_type() != compute) {
    // As on CPU, the operation computes in the operands' type and the out tensor gets the
    // result converted (int8 products wrap before they widen into an int64 out).
    return out.copy_(binary_new(op, a, b, alpha, promotion));
  }
  const c10::ScalarType dtype = out.scalar_type();
  if (b.unsafeGetTensorImpl()->is_wrapped_number() && at::isFloatingType(dtype) &&
      (op == BinaryOp::Mul || op == BinaryOp::Div)) {
    // A Python number multiplies or divides in the compute type, not rounded to a 16-bit out
    // dtype first: what PyTorch CPU does for these two (its add, sub and pow round it).
    KernelOperand x = kernel_operand(a, dtype, shape, device);
    launch(out, hal::BinaryScalar{op, describe(out), x.captured, b.item<double>(), alpha});
    return out;
  }
  KernelOperand x = kernel_operand(a, dtype, shape, device),
                y = kernel_operand(b, dtype, shape, device);
  launch(out, hal::Binary{op, describe(out), x.captured, y.captured, alpha});
  return out;
}

at::Tensor binary_new(BinaryOp op, const at::Tensor& a, const at::Tensor& b, double alpha,
                      Promotion promotion) {
  const c10::Device device = common_device({&a, &b});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(a.sizes(), b.sizes());
  at::Tensor out = new_output(shape, binary_type(a, b, promotion), a, device);
  return binary_into(op, a, b, out, alpha, promotion);
}

at::Tensor& binary_inplace(BinaryOp op, at::Tensor& self, const at::Tensor& other, double alpha) {
  const c10::ScalarType type = at::result_type(self, other);
  TORCH_CHECK(c10::canCast(type, self.scalar_type()), "result type ", type,
              " can't be cast to the desired output type ", self.scalar_type());
  TORCH_CHECK(at::infer_size(self.sizes(), other.sizes()) == self.sizes(), "output with shape ",
              self.sizes(), " doesn't match the broadcast shape ",
              at::infer_size(self.sizes(), other.sizes()));
  return binary_into(op, self, other, self, alpha);
}

template <BinaryOp op>
at::Tensor binary_fn(const at::Tensor& a, const at::Tensor& b) {
  return binary_new(op, a, b, 1);
}
template <BinaryOp op>
at::Tensor& binary_inplace_fn(at::Tensor& a, const at::Tensor& b) {
  return binary_inplace(op, a, b, 1);
}
template <BinaryOp op>
at::Tensor& binary_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return binary_into(op, a, b, out, 1);
}

at::Tensor remainder_scalar_tensor(const at::Scalar& self, const at::Tensor& other) {
  return binary_new(BinaryOp::Remainder, python_number(self), other, 1);
}

template <BinaryOp op>
at::Tensor alpha_fn(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
  return binary_new(op, a, b, alpha.toDouble());
}
template <BinaryOp op>
at::Tensor& alpha_inplace(at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
  return binary_inplace(op, a, b, alpha.toDouble());
}
template <BinaryOp op>
at::Tensor& alpha_out(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha,
                      at::Tensor& out) {
  return binary_into(op, a, b, out, alpha.toDouble());
}

at::Tensor div(const at::Tensor& a, const at::Tensor& b) {
  return binary_new(BinaryOp::Div, a, b, 1, Promotion::TrueDivide);
}
at::Tensor atan2(const at::Tensor& a, const at::Tensor& b) {  // integers promote, as for division
  return binary_new(BinaryOp::Atan2, a, b, 1, Promotion::TrueDivide);
}
at::Tensor& div_(at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(c10::isFloatingType(a.scalar_type()) || a.is_complex(),
              "result type Float can't be cast to the desired output type ", a.scalar_type());
  return binary_inplace(BinaryOp::Div, a, b, 1);
}
at::Tensor& div_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return binary_into(BinaryOp::Div, a, b, out, 1, Promotion::TrueDivide);
}

// div with a rounding mode: "trunc" and "floor" keep integer operands integral, as on CPU.
BinaryOp rounding_division(std::optional<c10::string_view> mode) {
  if (*mode == "trunc") return BinaryOp::TruncDivide;
  TORCH_CHECK(*mode == "floor",
              "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '",
              *mode, "'");
  return BinaryOp::FloorDivide;
}
at::Tensor div_mode(const at::Tensor& a, const at::Tensor& b,
                    std::optional<c10::string_view> mode) {
  return mode ? binary_new(rounding_division(mode), a, b, 1) : ops::div(a, b);
}
at::Tensor& div_mode_(at::Tensor& a, const at::Tensor& b, std::optional<c10::string_view> mode) {
  return mode ? binary_inplace(rounding_division(mode), a, b, 1) : div_(a, b);
}
at::Tensor& div_mode_out(const at::Tensor& a, const at::Tensor& b,
                         std::optional<c10::string_view> mode, at::Tensor& out) {
  return mode ? binary_into(rounding_division(mode), a, b, out, 1) : div_out(a, b, out);
}

// ---- comparisons -----------------------------------------------------------------------------

// out = operation(a, b) for a bool result: the operands broadcast and converted to
// operand_dtype; the operation writes bool, and another out dtype takes a converted copy.
template <typename Operation>
at::Tensor& bool_result_into(const at::Tensor& a, const at::Tensor& b,
                             c10::ScalarType operand_dtype, at::Tensor& out, Operation operation) {
  const c10::Device device = common_device({&a, &b, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(a.sizes(), b.sizes());
  at::native::resize_output(out, shape);
  check_overlap(out, {&a, &b});
  KernelOperand x = kernel_operand(a, operand_dtype, shape, device),
                y = kernel_operand(b, operand_dtype, shape, device);
  at::Tensor result =
      out.scalar_type() == c10::kBool ? out : at::empty(shape, out.options().dtype(c10::kBool));
  operation.out = describe(result);
  operation.a = x.captured;
  operation.b = y.captured;
  launch(out, operation);
  if (!result.is_same(out)) out.copy_(result);
  return out;
}

at::Tensor& compare_into(CompareOp op, const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return bool_result_into(a, b, at::result_type(a, b), out, hal::Compare{.op = op});
}

template <CompareOp op>
at::Tensor compare_fn(const at::Tensor& a, const at::Tensor& b) {
  const c10::Device device = common_device({&a, &b});
  at::Tensor out = at::empty({0}, at::TensorOptions().dtype(c10::kBool).device(device));
  return compare_into(op, a, b, out);
}
template <CompareOp op>
at::Tensor& compare_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return compare_into(op, a, b, out);
}
template <CompareOp op>
at::Tensor& compare_inplace(at::Tensor& a, const at::Tensor& b) {
  return compare_into(op, a, b, a);
}
template <CompareOp op>
at::Tensor compare_scalar_fn(const at::Tensor& a, const at::Scalar& b) {
  return compare_fn<op>(a, python_number(b));
}
template <CompareOp op>
at::Tensor& compare_scalar_out(const at::Tensor& a, const at::Scalar& b, at::Tensor& out) {
  return compare_into(op, a, python_number(b), out);
}
template <CompareOp op>
at::Tensor& compare_scalar_inplace(at::Tensor& a, const at::Scalar& b) {
  return compare_into(op, a, python_number(b), a);
}

// torch.equal, as CUDA computes it: same shape and every element equal (one synchronisation).
bool equal(const at::Tensor& self, const at::Tensor& other) {
  common_device({&self, &other});
  TORCH_CHECK(self.device() == other.device(), "Cannot compare two tensors on different devices. ",
              "Got: ", self.device(), " and ", other.device());
  if (self.sizes() != other.sizes()) return false;
  if (self.numel() == 0) return true;
  if (self.is_complex() || other.is_complex()) {  // both parts equal
    const auto type = c10::promoteTypes(self.scalar_type(), other.scalar_type());
    return ops::equal(at::view_as_real(self.to(type).resolve_conj()),
                      at::view_as_real(other.to(type).resolve_conj()));
  }
  return at::eq(self, other).all().item<bool>();
}

// Special float values, as comparisons against a scalar (integral inputs are never inf or nan).
template <CompareOp op>
at::Tensor& special_value_out(const at::Tensor& self, double value, at::Tensor& out) {
  if (!c10::isFloatingType(self.scalar_type())) {
    at::native::resize_output(out, self.sizes());
    return out.fill_(false);
  }
  return compare_into(op, self, at::scalar_tensor(value, at::kDouble), out);
}
at::Tensor& isneginf_out(const at::Tensor& self, at::Tensor& out) {
  return special_value_out<CompareOp::Eq>(self, -std::numeric_limits<double>::infinity(), out);
}
at::Tensor& isposinf_out(const at::Tensor& self, at::Tensor& out) {
  return special_value_out<CompareOp::Eq>(self, std::numeric_limits<double>::infinity(), out);
}
at::Tensor isneginf(const at::Tensor& self) {
  at::Tensor out = at::empty({0}, self.options().dtype(at::kBool));
  return isneginf_out(self, out);
}
at::Tensor isposinf(const at::Tensor& self) {
  at::Tensor out = at::empty({0}, self.options().dtype(at::kBool));
  return isposinf_out(self, out);
}
at::Tensor isnan(const at::Tensor& self) {
  at::Tensor out = at::empty({0}, self.options().dtype(at::kBool));
  if (!c10::isFloatingType(self.scalar_type())) return out.resize_(self.sizes()).fill_(false);
  return compare_into(CompareOp::Ne, self, self, out);
}

// ---- logical operators: operands as bool (x != 0), a bool result ---------------------------

at::Tensor& logical_into(BinaryOp op, const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return bool_result_into(a, b, c10::kBool, out, hal::Binary{.op = op});
}

template <BinaryOp op>
at::Tensor logical_fn(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor out = at::empty({0}, a.options().dtype(c10::kBool));
  return logical_into(op, a, b, out);
}
template <BinaryOp op>
at::Tensor& logical_inplace(at::Tensor& a, const at::Tensor& b) {
  return logical_into(op, a, b, a);
}
template <BinaryOp op>
at::Tensor& logical_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  return logical_into(op, a, b, out);
}

// ---- parameterised activations, their gradients, where, clamp --------------------------------

at::Tensor gelu(const at::Tensor& self, c10::string_view approximate) {
  return unary_new(approximate == "tanh" ? UnaryOp::GeluTanh : UnaryOp::Gelu, self, 0);
}
at::Tensor& gelu_(at::Tensor& self, c10::string_view approximate) {
  return unary_into(approximate == "tanh" ? UnaryOp::GeluTanh : UnaryOp::Gelu, self, self, 0);
}
at::Tensor& gelu_out(const at::Tensor& self, c10::string_view approximate, at::Tensor& out) {
  return unary_into(approximate == "tanh" ? UnaryOp::GeluTanh : UnaryOp::Gelu, self, out, 0);
}
at::Tensor gelu_backward(const at::Tensor& grad, const at::Tensor& self,
                         c10::string_view approximate) {
  return binary_new(approximate == "tanh" ? BinaryOp::GeluTanhBackward : BinaryOp::GeluBackward,
                    grad, self, 1);
}
at::Tensor threshold_backward(const at::Tensor& grad, const at::Tensor& self,
                              const at::Scalar& threshold) {
  return binary_new(BinaryOp::ThresholdBackward, grad, self, threshold.toDouble());
}
at::Tensor leaky_relu(const at::Tensor& self, const at::Scalar& slope) {
  return unary_new(UnaryOp::LeakyRelu, self, slope.toDouble());
}
at::Tensor& leaky_relu_(at::Tensor& self, const at::Scalar& slope) {
  return unary_into(UnaryOp::LeakyRelu, self, self, slope.toDouble());
}
at::Tensor leaky_relu_backward(const at::Tensor& grad, const at::Tensor& self,
                               const at::Scalar& slope, bool) {
  return binary_new(BinaryOp::LeakyReluBackward, grad, self, slope.toDouble());
}
// Integer powers of integer tensors stay integral; everything else computes in floating point.
bool integral_power(const at::Tensor& self, const at::Scalar& exponent) {
  return c10::isIntegralType(self.scalar_type(), true) && exponent.isIntegral(false);
}
at::Tensor pow_scalar(const at::Tensor& self, const at::Scalar& exponent) {
  if (integral_power(self, exponent))
    return binary_new(BinaryOp::Pow, self, python_number(exponent), 1);
  return unary_new(UnaryOp::PowScalar, self, exponent.toDouble());
}
at::Tensor& pow_scalar_out(const at::Tensor& self, const at::Scalar& exponent, at::Tensor& out) {
  if (integral_power(self, exponent))
    return binary_into(BinaryOp::Pow, self, python_number(exponent), out, 1);
  return unary_into(UnaryOp::PowScalar, self, out, exponent.toDouble());
}
at::Tensor& pow_scalar_(at::Tensor& self, const at::Scalar& exponent) {
  return pow_scalar_out(self, exponent, self);
}
// A number raised to a tensor (Adam's capturable bias corrections, beta ** step).
at::Tensor& pow_scalar_base_out(const at::Scalar& base, const at::Tensor& exponent,
                                at::Tensor& out) {
  return binary_into(BinaryOp::Pow, python_number(base), exponent, out, 1);
}
at::Tensor pow_scalar_base(const at::Scalar& base, const at::Tensor& exponent) {
  const c10::Device device = common_device({&exponent});
  c10::DeviceGuard guard(device);
  const at::Tensor number = python_number(base);
  at::Tensor out =
      new_output(exponent.sizes(), at::result_type(number, exponent), exponent, device);
  return pow_scalar_base_out(base, exponent, out);
}
at::Tensor where(const at::Tensor& cond, const at::Tensor& a, const at::Tensor& b) {
  const c10::Device device = common_device({&cond, &a, &b});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(at::infer_size(cond.sizes(), a.sizes()), b.sizes());
  const c10::ScalarType dtype = at::result_type(a, b);
  at::Tensor out = new_output(shape, dtype, a, device);
  const at::Tensor c = operand(cond, c10::kBool, shape, device);
  const at::Tensor x = operand(a, dtype, shape, device), y = operand(b, dtype, shape, device);
  launch(out, hal::Where{describe(out), describe(c), describe(x), describe(y)});
  return out;
}
at::Tensor& clamp_into(const at::Tensor& self, const std::optional<at::Scalar>& lo,
                       const std::optional<at::Scalar>& hi, at::Tensor& out) {
  TORCH_CHECK(lo || hi, "torch.clamp: At least one of 'min' or 'max' must not be None");
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  prepare_out(out, self.sizes(), self.scalar_type(), device);
  check_overlap(out, {&self});
  const at::Tensor in = operand(self, out.scalar_type(), out.sizes(), device);
  std::optional<double> low, high;
  if (lo) low = lo->toDouble();
  if (hi) high = hi->toDouble();
  launch(out, hal::Clamp{describe(out), describe(in), low, high});
  return out;
}
at::Tensor clamp(const at::Tensor& self, const std::optional<at::Scalar>& lo,
                 const std::optional<at::Scalar>& hi) {
  at::Tensor out = new_output(self.sizes(), self.scalar_type(), self, common_device({&self}));
  return clamp_into(self, lo, hi, out);
}
at::Tensor& clamp_(at::Tensor& self, const std::optional<at::Scalar>& lo,
                   const std::optional<at::Scalar>& hi) {
  return clamp_into(self, lo, hi, self);
}
at::Tensor& clamp_out(const at::Tensor& self, const std::optional<at::Scalar>& lo,
                      const std::optional<at::Scalar>& hi, at::Tensor& out) {
  return clamp_into(self, lo, hi, out);
}
// clamp_min and clamp_max with a number: clamp with one bound.
template <bool upper>
at::Tensor& clamp_bound_out(const at::Tensor& self, const at::Scalar& bound, at::Tensor& out) {
  return upper ? clamp_into(self, std::nullopt, bound, out)
               : clamp_into(self, bound, std::nullopt, out);
}
template <bool upper>
at::Tensor clamp_bound(const at::Tensor& self, const at::Scalar& bound) {
  at::Tensor out = new_output(self.sizes(), self.scalar_type(), self, common_device({&self}));
  return clamp_bound_out<upper>(self, bound, out);
}
template <bool upper>
at::Tensor& clamp_bound_(at::Tensor& self, const at::Scalar& bound) {
  return clamp_bound_out<upper>(self, bound, self);
}
// rsub(self, other, alpha) = other - alpha * self.
at::Tensor rsub(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  return binary_new(BinaryOp::Sub, other, self, alpha.toDouble());
}

// Operators whose kernels have a complex form (complex.h: add, sub, mul, div, neg, abs, sgn, exp,
// reciprocal) or see only truth values (logical_and, _or, _xor) register as they are; the others
// through RealOnly, which hands complex operands to the CPU fallback (and so to CPU's answer, or
// its error).
#define MLU_UNARY(name, op)                                                        \
  m.impl(#name, RealOnly<ATEN_OP(name), unary_fn<UnaryOp::op>>::call);             \
  m.impl(#name "_", RealOnly<ATEN_OP(name##_), unary_inplace<UnaryOp::op>>::call); \
  m.impl(#name ".out", RealOnly<ATEN_OP2(name, out), unary_out<UnaryOp::op>>::call)

#define MLU_COMPLEX_UNARY(name, op)              \
  m.impl(#name, unary_fn<UnaryOp::op>);          \
  m.impl(#name "_", unary_inplace<UnaryOp::op>); \
  m.impl(#name ".out", unary_out<UnaryOp::op>)

#define MLU_BINARY(name, op)                                                                \
  m.impl(#name ".Tensor", RealOnly<ATEN_OP2(name, Tensor), binary_fn<BinaryOp::op>>::call); \
  m.impl(#name "_.Tensor",                                                                  \
         RealOnly<ATEN_OP2(name##_, Tensor), binary_inplace_fn<BinaryOp::op>>::call);       \
  m.impl(#name ".Tensor_out", RealOnly<ATEN_OP2(name, Tensor_out), binary_out<BinaryOp::op>>::call)

#define MLU_COMPARE(name, op)                                                                 \
  m.impl(#name ".Tensor", RealOnly<ATEN_OP2(name, Tensor), compare_fn<CompareOp::op>>::call); \
  m.impl(#name ".Tensor_out",                                                                 \
         RealOnly<ATEN_OP2(name, Tensor_out), compare_out<CompareOp::op>>::call);             \
  m.impl(#name "_.Tensor",                                                                    \
         RealOnly<ATEN_OP2(name##_, Tensor), compare_inplace<CompareOp::op>>::call);          \
  m.impl(#name ".Scalar",                                                                     \
         RealOnly<ATEN_OP2(name, Scalar), compare_scalar_fn<CompareOp::op>>::call);           \
  m.impl(#name ".Scalar_out",                                                                 \
         RealOnly<ATEN_OP2(name, Scalar_out), compare_scalar_out<CompareOp::op>>::call);      \
  m.impl(#name "_.Scalar",                                                                    \
         RealOnly<ATEN_OP2(name##_, Scalar), compare_scalar_inplace<CompareOp::op>>::call)

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  MLU_COMPLEX_UNARY(neg, Neg);
  MLU_COMPLEX_UNARY(abs, Abs);
  MLU_COMPLEX_UNARY(exp, Exp);
  MLU_UNARY(log, Log);
  MLU_UNARY(log1p, Log1p);
  MLU_UNARY(log2, Log2);
  MLU_UNARY(log10, Log10);
  MLU_UNARY(expm1, Expm1);
  MLU_UNARY(sqrt, Sqrt);
  MLU_UNARY(rsqrt, Rsqrt);
  MLU_COMPLEX_UNARY(reciprocal, Reciprocal);
  MLU_UNARY(sin, Sin);
  MLU_UNARY(cos, Cos);
  MLU_UNARY(tanh, Tanh);
  MLU_UNARY(sigmoid, Sigmoid);
  MLU_UNARY(erf, Erf);
  MLU_UNARY(floor, Floor);
  MLU_UNARY(ceil, Ceil);
  MLU_UNARY(trunc, Trunc);
  MLU_UNARY(sign, Sign);
  m.impl("sgn", sgn);
  m.impl("sgn_", sgn_);
  m.impl("sgn.out", sgn_out);
  MLU_UNARY(silu, Silu);
  MLU_UNARY(mish, Mish);
  MLU_UNARY(hardswish, Hardswish);
  MLU_UNARY(hardsigmoid, Hardsigmoid);
  MLU_UNARY(logical_not, LogicalNot);
  MLU_UNARY(bitwise_not, BitwiseNot);
  m.impl("round", RealOnly<ATEN_OP(round), unary_fn<UnaryOp::Round>>::call);
  m.impl("round_", RealOnly<ATEN_OP(round_), unary_inplace<UnaryOp::Round>>::call);
  m.impl("round.out", RealOnly<ATEN_OP2(round, out), unary_out<UnaryOp::Round>>::call);
  m.impl("relu", RealOnly<ATEN_OP(relu), unary_fn<UnaryOp::Relu>>::call);
  m.impl("relu_", RealOnly<ATEN_OP(relu_), unary_inplace<UnaryOp::Relu>>::call);

  m.impl("add.Tensor", alpha_fn<BinaryOp::Add>);
  m.impl("add_.Tensor", alpha_inplace<BinaryOp::Add>);
  m.impl("add.out", alpha_out<BinaryOp::Add>);
  m.impl("sub.Tensor", alpha_fn<BinaryOp::Sub>);
  m.impl("sub_.Tensor", alpha_inplace<BinaryOp::Sub>);
  m.impl("sub.out", alpha_out<BinaryOp::Sub>);
  m.impl("mul.Tensor", binary_fn<BinaryOp::Mul>);
  m.impl("mul_.Tensor", binary_inplace_fn<BinaryOp::Mul>);
  m.impl("mul.out", binary_out<BinaryOp::Mul>);
  m.impl("div.Tensor", div);
  m.impl("div_.Tensor", div_);
  m.impl("div.out", div_out);
  m.impl("div.Tensor_mode", RealOnly<ATEN_OP2(div, Tensor_mode), div_mode>::call);
  m.impl("div_.Tensor_mode", RealOnly<ATEN_OP2(div_, Tensor_mode), div_mode_>::call);
  m.impl("div.out_mode", RealOnly<ATEN_OP2(div, out_mode), div_mode_out>::call);
  m.impl("maximum", RealOnly<ATEN_OP(maximum), binary_fn<BinaryOp::Maximum>>::call);
  m.impl("maximum.out", RealOnly<ATEN_OP2(maximum, out), binary_out<BinaryOp::Maximum>>::call);
  // With a tensor bound clamp_min is maximum and clamp_max minimum (NaN from either side wins).
  m.impl("clamp_min.Tensor",
         RealOnly<ATEN_OP2(clamp_min, Tensor), binary_fn<BinaryOp::Maximum>>::call);
  m.impl("clamp_min_.Tensor",
         RealOnly<ATEN_OP2(clamp_min_, Tensor), binary_inplace_fn<BinaryOp::Maximum>>::call);
  m.impl("clamp_min.Tensor_out",
         RealOnly<ATEN_OP2(clamp_min, Tensor_out), binary_out<BinaryOp::Maximum>>::call);
  m.impl("clamp_max.Tensor",
         RealOnly<ATEN_OP2(clamp_max, Tensor), binary_fn<BinaryOp::Minimum>>::call);
  m.impl("clamp_max_.Tensor",
         RealOnly<ATEN_OP2(clamp_max_, Tensor), binary_inplace_fn<BinaryOp::Minimum>>::call);
  m.impl("clamp_max.Tensor_out",
         RealOnly<ATEN_OP2(clamp_max, Tensor_out), binary_out<BinaryOp::Minimum>>::call);
  m.impl("minimum", RealOnly<ATEN_OP(minimum), binary_fn<BinaryOp::Minimum>>::call);
  m.impl("minimum.out", RealOnly<ATEN_OP2(minimum, out), binary_out<BinaryOp::Minimum>>::call);
  m.impl("pow.Tensor_Tensor",
         RealOnly<ATEN_OP2(pow, Tensor_Tensor), binary_fn<BinaryOp::Pow>>::call);
  m.impl("pow.Tensor_Scalar", RealOnly<ATEN_OP2(pow, Tensor_Scalar), pow_scalar>::call);
  m.impl("pow.Tensor_Scalar_out", RealOnly<ATEN_OP2(pow, Tensor_Scalar_out), pow_scalar_out>::call);
  m.impl("pow_.Scalar", RealOnly<ATEN_OP2(pow_, Scalar), pow_scalar_>::call);
  m.impl("pow.Scalar", RealOnly<ATEN_OP2(pow, Scalar), pow_scalar_base>::call);
  m.impl("pow.Scalar_out", RealOnly<ATEN_OP2(pow, Scalar_out), pow_scalar_base_out>::call);
  MLU_BINARY(remainder, Remainder);
  MLU_BINARY(fmod, Fmod);
  // Every integer division is native: PyTorch CPU's kernels trap on MIN / -1 (SIGFPE), so the
  // fallback must never run them.
  m.impl("floor_divide", RealOnly<ATEN_OP(floor_divide), binary_fn<BinaryOp::FloorDivide>>::call);
  m.impl("floor_divide_.Tensor",
         RealOnly<ATEN_OP2(floor_divide_, Tensor), binary_inplace_fn<BinaryOp::FloorDivide>>::call);
  m.impl("floor_divide.out",
         RealOnly<ATEN_OP2(floor_divide, out), binary_out<BinaryOp::FloorDivide>>::call);
  m.impl("remainder.Scalar_Tensor",
         RealOnly<ATEN_OP2(remainder, Scalar_Tensor), remainder_scalar_tensor>::call);
  m.impl("atan2", RealOnly<ATEN_OP(atan2), atan2>::call);
  MLU_BINARY(bitwise_and, BitwiseAnd);
  MLU_BINARY(bitwise_or, BitwiseOr);
  MLU_BINARY(bitwise_xor, BitwiseXor);
  m.impl("logical_and", logical_fn<BinaryOp::LogicalAnd>);
  m.impl("logical_and_", logical_inplace<BinaryOp::LogicalAnd>);
  m.impl("logical_and.out", logical_out<BinaryOp::LogicalAnd>);
  m.impl("logical_or", logical_fn<BinaryOp::LogicalOr>);
  m.impl("logical_or_", logical_inplace<BinaryOp::LogicalOr>);
  m.impl("logical_or.out", logical_out<BinaryOp::LogicalOr>);
  m.impl("logical_xor",
         logical_fn<BinaryOp::BitwiseXor>);  // on bools
  m.impl("logical_xor_", logical_inplace<BinaryOp::BitwiseXor>);
  m.impl("logical_xor.out", logical_out<BinaryOp::BitwiseXor>);
  m.impl("rsub.Tensor", rsub);

  m.impl("equal", RealOnly<ATEN_OP(equal), equal>::call);
  MLU_COMPARE(eq, Eq);
  MLU_COMPARE(ne, Ne);
  MLU_COMPARE(lt, Lt);
  MLU_COMPARE(le, Le);
  MLU_COMPARE(gt, Gt);
  MLU_COMPARE(ge, Ge);

  m.impl("isneginf", RealOnly<ATEN_OP(isneginf), isneginf>::call);
  m.impl("isneginf.out", RealOnly<ATEN_OP2(isneginf, out), isneginf_out>::call);
  m.impl("isposinf", RealOnly<ATEN_OP(isposinf), isposinf>::call);
  m.impl("isposinf.out", RealOnly<ATEN_OP2(isposinf, out), isposinf_out>::call);
  m.impl("isnan", RealOnly<ATEN_OP(isnan), isnan>::call);

  m.impl("gelu", RealOnly<ATEN_OP(gelu), gelu>::call);
  m.impl("gelu_", RealOnly<ATEN_OP(gelu_), gelu_>::call);
  m.impl("gelu.out", RealOnly<ATEN_OP2(gelu, out), gelu_out>::call);
  m.impl("gelu_backward", RealOnly<ATEN_OP(gelu_backward), gelu_backward>::call);
  m.impl("threshold_backward", RealOnly<ATEN_OP(threshold_backward), threshold_backward>::call);
  m.impl("sigmoid_backward",
         RealOnly<ATEN_OP(sigmoid_backward), binary_fn<BinaryOp::SigmoidBackward>>::call);
  m.impl("tanh_backward",
         RealOnly<ATEN_OP(tanh_backward), binary_fn<BinaryOp::TanhBackward>>::call);
  m.impl("silu_backward",
         RealOnly<ATEN_OP(silu_backward), binary_fn<BinaryOp::SiluBackward>>::call);
  m.impl("mish_backward",
         RealOnly<ATEN_OP(mish_backward), binary_fn<BinaryOp::MishBackward>>::call);
  m.impl("hardswish_backward",
         RealOnly<ATEN_OP(hardswish_backward), binary_fn<BinaryOp::HardswishBackward>>::call);
  m.impl("hardsigmoid_backward",
         RealOnly<ATEN_OP(hardsigmoid_backward), binary_fn<BinaryOp::HardsigmoidBackward>>::call);
  m.impl("leaky_relu", RealOnly<ATEN_OP(leaky_relu), leaky_relu>::call);
  m.impl("leaky_relu_", RealOnly<ATEN_OP(leaky_relu_), leaky_relu_>::call);
  m.impl("leaky_relu_backward", RealOnly<ATEN_OP(leaky_relu_backward), leaky_relu_backward>::call);
  m.impl("where.self", RealOnly<ATEN_OP2(where, self), where>::call);
  m.impl("clamp", RealOnly<ATEN_OP(clamp), clamp>::call);
  m.impl("clamp_", RealOnly<ATEN_OP(clamp_), clamp_>::call);
  m.impl("clamp.out", RealOnly<ATEN_OP2(clamp, out), clamp_out>::call);
  m.impl("clamp_min", RealOnly<ATEN_OP(clamp_min), clamp_bound<false>>::call);
  m.impl("clamp_min_", RealOnly<ATEN_OP(clamp_min_), clamp_bound_<false>>::call);
  m.impl("clamp_min.out", RealOnly<ATEN_OP2(clamp_min, out), clamp_bound_out<false>>::call);
  m.impl("clamp_max", RealOnly<ATEN_OP(clamp_max), clamp_bound<true>>::call);
  m.impl("clamp_max_", RealOnly<ATEN_OP(clamp_max_), clamp_bound_<true>>::call);
  m.impl("clamp_max.out", RealOnly<ATEN_OP2(clamp_max, out), clamp_bound_out<true>>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
