// Native three-operand elementwise operators: addcmul, addcdiv and lerp (the optimizers' update
// arithmetic), plus where's out= form and log_sigmoid.
#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Operators.h>
#include <ATen/native/Resize.h>
#include <ATen/native/TypeProperties.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

using hal::TernaryOp;

c10::ScalarType promoted(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c) {
  return at::native::result_type({a, b, c});
}

at::Tensor& ternary_into(TernaryOp op, const at::Tensor& a, const at::Tensor& b,
                         const at::Tensor& c, double value, at::Tensor& out) {
  const c10::Device device = common_device({&a, &b, &c, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(at::infer_size(a.sizes(), b.sizes()), c.sizes());
  const c10::ScalarType type = promoted(a, b, c);
  prepare_out(out, shape, type, device);
  check_overlap(out, {&a, &b, &c});
  const c10::ScalarType dtype = out.scalar_type();
  KernelOperand x = kernel_operand(a, dtype, shape, device),
                y = kernel_operand(b, dtype, shape, device),
                z = kernel_operand(c, dtype, shape, device);
  launch(out, hal::Ternary{op, describe(out), x.captured, y.captured, z.captured, value});
  return out;
}

at::Tensor ternary_new(TernaryOp op, const at::Tensor& a, const at::Tensor& b, const at::Tensor& c,
                       double value) {
  const c10::Device device = common_device({&a, &b, &c});
  const auto shape = at::infer_size(at::infer_size(a.sizes(), b.sizes()), c.sizes());
  at::Tensor out = new_output(shape, promoted(a, b, c), a, device);
  return ternary_into(op, a, b, c, value, out);
}

template <TernaryOp op>
at::Tensor addc(const at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                const at::Scalar& value) {
  return ternary_new(op, self, t1, t2, value.toDouble());
}
template <TernaryOp op>
at::Tensor& addc_(at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                  const at::Scalar& value) {
  return ternary_into(op, self, t1, t2, value.toDouble(), self);
}
template <TernaryOp op>
at::Tensor& addc_out(const at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                     const at::Scalar& value, at::Tensor& out) {
  return ternary_into(op, self, t1, t2, value.toDouble(), out);
}

// A number weight stays a number in the compute type (not a 16-bit operand), as on CPU.
at::Tensor& lerp_scalar_into(const at::Tensor& a, const at::Tensor& b, const at::Scalar& weight,
                             at::Tensor& out) {
  const c10::Device device = common_device({&a, &b, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(a.sizes(), b.sizes());
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "lerp: expected dtype ", a.scalar_type(),
              " for `end` but got dtype ", b.scalar_type());
  TORCH_CHECK(c10::isFloatingType(a.scalar_type()), "lerp: expected a floating-point tensor, got ",
              a.scalar_type());
  prepare_out(out, shape, a.scalar_type(), device);
  check_overlap(out, {&a, &b});
  const c10::ScalarType dtype = out.scalar_type();
  KernelOperand x = kernel_operand(a, dtype, shape, device),
                y = kernel_operand(b, dtype, shape, device);
  launch(out, hal::LerpScalar{describe(out), x.captured, y.captured, weight.toDouble()});
  return out;
}
at::Tensor lerp_scalar(const at::Tensor& self, const at::Tensor& end, const at::Scalar& weight) {
  const c10::Device device = common_device({&self, &end});
  at::Tensor out =
      new_output(at::infer_size(self.sizes(), end.sizes()), self.scalar_type(), self, device);
  return lerp_scalar_into(self, end, weight, out);
}
at::Tensor& lerp_scalar_(at::Tensor& self, const at::Tensor& end, const at::Scalar& weight) {
  return lerp_scalar_into(self, end, weight, self);
}
at::Tensor& lerp_scalar_out(const at::Tensor& self, const at::Tensor& end, const at::Scalar& weight,
                            at::Tensor& out) {
  return lerp_scalar_into(self, end, weight, out);
}
at::Tensor lerp_tensor(const at::Tensor& self, const at::Tensor& end, const at::Tensor& weight) {
  return ternary_new(TernaryOp::Lerp, self, end, weight, 1);
}
at::Tensor& lerp_tensor_(at::Tensor& self, const at::Tensor& end, const at::Tensor& weight) {
  return ternary_into(TernaryOp::Lerp, self, end, weight, 1, self);
}
at::Tensor& lerp_tensor_out(const at::Tensor& self, const at::Tensor& end, const at::Tensor& weight,
                            at::Tensor& out) {
  return ternary_into(TernaryOp::Lerp, self, end, weight, 1, out);
}

at::Tensor& where_out(const at::Tensor& cond, const at::Tensor& a, const at::Tensor& b,
                      at::Tensor& out) {
  const c10::Device device = common_device({&cond, &a, &b, &out});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(at::infer_size(cond.sizes(), a.sizes()), b.sizes());
  prepare_out(out, shape, at::result_type(a, b), device);
  check_overlap(out, {&cond, &a, &b});
  const c10::ScalarType dtype = out.scalar_type();
  KernelOperand c = kernel_operand(cond, c10::kBool, shape, device);
  KernelOperand x = kernel_operand(a, dtype, shape, device),
                y = kernel_operand(b, dtype, shape, device);
  launch(out, hal::Where{describe(out), c.captured, x.captured, y.captured});
  return out;
}

// CUDA's form: the CPU kernel's buffer is not needed, so it is returned empty.
std::tuple<at::Tensor, at::Tensor> log_sigmoid_forward(const at::Tensor& self) {
  const c10::Device device = common_device({&self});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(c10::isFloatingType(self.scalar_type()),
              "log_sigmoid expects a floating-point input, got ", self.scalar_type());
  at::Tensor out = new_output(self.sizes(), self.scalar_type(), self, device);
  launch(out, hal::LogSigmoid{describe(out), describe(self)});
  return {out, at::empty({0}, self.options())};
}

at::Tensor log_sigmoid_backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor&) {
  const c10::Device device = common_device({&grad, &self});
  c10::DeviceGuard guard(device);
  const auto shape = at::infer_size(grad.sizes(), self.sizes());
  const c10::ScalarType dtype = at::result_type(grad, self);
  at::Tensor out = new_output(shape, dtype, self, device);
  KernelOperand g = kernel_operand(grad, dtype, shape, device),
                x = kernel_operand(self, dtype, shape, device);
  launch(out, hal::LogSigmoidBackward{describe(out), g.captured, x.captured});
  return out;
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("addcmul", RealOnly<ATEN_OP(addcmul), addc<TernaryOp::AddCMul>>::call);
  m.impl("addcmul_", RealOnly<ATEN_OP(addcmul_), addc_<TernaryOp::AddCMul>>::call);
  m.impl("addcmul.out", RealOnly<ATEN_OP2(addcmul, out), addc_out<TernaryOp::AddCMul>>::call);
  m.impl("addcdiv", RealOnly<ATEN_OP(addcdiv), addc<TernaryOp::AddCDiv>>::call);
  m.impl("addcdiv_", RealOnly<ATEN_OP(addcdiv_), addc_<TernaryOp::AddCDiv>>::call);
  m.impl("addcdiv.out", RealOnly<ATEN_OP2(addcdiv, out), addc_out<TernaryOp::AddCDiv>>::call);
  m.impl("lerp.Scalar", RealOnly<ATEN_OP2(lerp, Scalar), lerp_scalar>::call);
  m.impl("lerp_.Scalar", RealOnly<ATEN_OP2(lerp_, Scalar), lerp_scalar_>::call);
  m.impl("lerp.Scalar_out", RealOnly<ATEN_OP2(lerp, Scalar_out), lerp_scalar_out>::call);
  m.impl("lerp.Tensor", RealOnly<ATEN_OP2(lerp, Tensor), lerp_tensor>::call);
  m.impl("lerp_.Tensor", RealOnly<ATEN_OP2(lerp_, Tensor), lerp_tensor_>::call);
  m.impl("lerp.Tensor_out", RealOnly<ATEN_OP2(lerp, Tensor_out), lerp_tensor_out>::call);
  m.impl("where.self_out", RealOnly<ATEN_OP2(where, self_out), where_out>::call);
  m.impl("log_sigmoid_forward", RealOnly<ATEN_OP(log_sigmoid_forward), log_sigmoid_forward>::call);
  m.impl("log_sigmoid_backward",
         RealOnly<ATEN_OP(log_sigmoid_backward), log_sigmoid_backward>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
