// The _foreach_* operators the optimizers (foreach=True, their default on mlu) and gradient
// clipping use, as multi-tensor kernels: one launch per call runs the elementwise kernel of every
// tensor on the device, instead of one launch per tensor. Lists PyTorch's own fast path would not
// take either (mixed dtypes, shapes or layouts at one index, tensors with gaps, other devices,
// integer tensors) run tensor by tensor through the ordinary operators. Tensors of any dim order
// without gaps take the multi-tensor path when the tensors at one index share it (channels-last
// parameters).
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using hal::BinaryOp;
using Descs = std::vector<hal::TensorDesc>;

// Whether one launch can serve the lists: equal lengths, every tensor a floating tensor on the
// first one's mlu device, tensors at one index of one dtype, shape and dense layout.
bool multi_tensor(std::initializer_list<at::TensorList> lists) {
  const at::TensorList first = *lists.begin();
  if (first.empty()) return false;
  const c10::Device device = first[0].device();
  if (device.type() != kMLU) return false;
  for (const at::TensorList list : lists) {
    if (list.size() != first.size()) return false;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const at::Tensor& t = list[i];
      if (t.device() != device || !c10::isFloatingType(t.scalar_type()) ||
          t.scalar_type() != first[i].scalar_type() || t.sizes() != first[i].sizes() ||
          !same_dense_layout(t, first[i])) {
        return false;
      }
    }
  }
  return true;
}

Descs describe_all(at::TensorList list) {
  Descs descs;
  descs.reserve(list.size());
  for (const at::Tensor& t : list) descs.push_back(describe_flat(t));
  return descs;
}

// A number that adds to a 16-bit tensor is rounded to its dtype first, as PyTorch CPU does (it
// keeps factors and divisors in float).
double addend(const at::Scalar& value, c10::ScalarType dtype) {
  if (dtype == at::kHalf) return static_cast<float>(value.to<c10::Half>());
  if (dtype == at::kBFloat16) return static_cast<float>(value.to<c10::BFloat16>());
  return value.toDouble();
}

// The outputs of a call: self for the in-place forms, new tensors otherwise.
std::vector<at::Tensor> outputs(at::TensorList self, bool in_place) {
  if (in_place) return self.vec();
  std::vector<at::Tensor> out;
  out.reserve(self.size());
  for (const at::Tensor& t : self) out.push_back(at::empty_like(t));
  return out;
}

// One tensor's `self op number` through the ordinary operators.
at::Tensor number_op(BinaryOp op, const at::Tensor& t, const at::Scalar& s, bool in_place) {
  switch (op) {
    case BinaryOp::Add: return in_place ? t.add_(s) : t.add(s);
    case BinaryOp::Mul: return in_place ? t.mul_(s) : t.mul(s);
    default: return in_place ? t.div_(s) : t.div(s);
  }
}

// self[i] op scalars[i] (one scalar: the same for all) for add, mul and div.
std::vector<at::Tensor> with_numbers(BinaryOp op, at::TensorList self,
                                     at::ArrayRef<at::Scalar> scalars, bool in_place) {
  auto scalar = [&](std::size_t i) -> const at::Scalar& {
    return scalars.size() == 1 ? scalars[0] : scalars[i];
  };
  const bool complex = std::any_of(scalars.begin(), scalars.end(),
                                   [](const at::Scalar& s) { return s.isComplex(); });
  if (!multi_tensor({self}) || complex) {
    std::vector<at::Tensor> out;
    for (std::size_t i = 0; i < self.size(); ++i)
      out.push_back(number_op(op, self[i], scalar(i), in_place));
    return out;
  }
  std::vector<double> numbers;
  for (std::size_t i = 0; i < self.size(); ++i)
    numbers.push_back(op == BinaryOp::Add ? addend(scalar(i), self[i].scalar_type())
                                          : scalar(i).toDouble());
  std::vector<at::Tensor> out = outputs(self, in_place);
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], hal::ForeachBinaryScalar{op, describe_all(out), describe_all(self), numbers});
  return out;
}

template <BinaryOp op>
void apply_scalar_(at::TensorList self, const at::Scalar& scalar) {
  with_numbers(op, self, scalar, true);
}
template <BinaryOp op>
std::vector<at::Tensor> apply_scalar(at::TensorList self, const at::Scalar& scalar) {
  return with_numbers(op, self, scalar, false);
}

void check_scalar_list(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  TORCH_CHECK(scalars.size() == self.size(),
              "Tensor list must have same number of elements as scalar list, got ", self.size(),
              " and ", scalars.size());
}
void div_scalar_list_(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  check_scalar_list(self, scalars);
  with_numbers(BinaryOp::Div, self, scalars, true);
}
std::vector<at::Tensor> div_scalar_list(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  check_scalar_list(self, scalars);
  return with_numbers(BinaryOp::Div, self, scalars, false);
}

void check_same_length(at::TensorList self, at::TensorList other) {
  TORCH_CHECK(self.size() == other.size(),
              "Tensor lists must have the same number of tensors, got ", self.size(), " and ",
              other.size());
}

// self[i] op other[i] for add (with alpha) and maximum.
std::vector<at::Tensor> with_list(BinaryOp op, at::TensorList self, at::TensorList other,
                                  const at::Scalar& alpha, bool in_place) {
  check_same_length(self, other);
  if (!multi_tensor({self, other})) {
    std::vector<at::Tensor> out;
    for (std::size_t i = 0; i < self.size(); ++i) {
      if (op == BinaryOp::Maximum)  // registered in place only
        out.push_back(self[i].copy_(at::maximum(self[i], other[i])));
      else
        out.push_back(in_place ? self[i].add_(other[i], alpha) : self[i].add(other[i], alpha));
    }
    return out;
  }
  std::vector<at::Tensor> out = outputs(self, in_place);
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], hal::ForeachBinary{op, describe_all(out), describe_all(self), describe_all(other),
                                    alpha.toDouble()});
  return out;
}

void add_list_(at::TensorList self, at::TensorList other, const at::Scalar& alpha) {
  with_list(BinaryOp::Add, self, other, alpha, true);
}
std::vector<at::Tensor> add_list(at::TensorList self, at::TensorList other,
                                 const at::Scalar& alpha) {
  return with_list(BinaryOp::Add, self, other, alpha, false);
}
// Adam's amsgrad: max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq).
void maximum_list_(at::TensorList self, at::TensorList other) {
  with_list(BinaryOp::Maximum, self, other, 1, true);
}

// self[i] *= other, other a 0-d tensor on the device (gradient clipping's coefficient).
void mul_tensor_(at::TensorList self, const at::Tensor& other) {
  const bool one_launch =
      multi_tensor({self}) && other.dim() == 0 && other.device() == self[0].device() &&
      std::all_of(self.begin(), self.end(),
                  [&](const at::Tensor& t) { return t.scalar_type() == other.scalar_type(); });
  if (!one_launch) {
    for (const at::Tensor& t : self) t.mul_(other);
    return;
  }
  c10::DeviceGuard guard(self[0].device());
  launch(self[0], hal::ForeachMulTensor{describe_all(self), describe(other)});
}

std::vector<at::Tensor> with_sqrt(at::TensorList self, bool in_place) {
  if (!multi_tensor({self})) {
    std::vector<at::Tensor> out;
    for (const at::Tensor& t : self) out.push_back(in_place ? t.sqrt_() : t.sqrt());
    return out;
  }
  std::vector<at::Tensor> out = outputs(self, in_place);
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], hal::ForeachUnary{hal::UnaryOp::Sqrt, describe_all(out), describe_all(self)});
  return out;
}
std::vector<at::Tensor> sqrt(at::TensorList self) { return with_sqrt(self, false); }
void sqrt_(at::TensorList self) { with_sqrt(self, true); }

void lerp_scalar_(at::TensorList self, at::TensorList end, const at::Scalar& weight) {
  if (!multi_tensor({self, end})) {
    for (std::size_t i = 0; i < self.size(); ++i) self[i].lerp_(end[i], weight);
    return;
  }
  c10::DeviceGuard guard(self[0].device());
  launch(self[0], hal::ForeachLerpScalar{describe_all(self), describe_all(end), weight.toDouble()});
}

// self[i] += values[i] * t1[i] op t2[i] for addcmul and addcdiv.
template <hal::TernaryOp op>
void addc_(at::TensorList self, at::TensorList t1, at::TensorList t2,
           const std::vector<at::Scalar>& values) {
  TORCH_CHECK(self.size() == t1.size() && self.size() == t2.size(),
              "Tensor lists must have the same number of tensors, got ", self.size(), ", ",
              t1.size(), " and ", t2.size());
  if (!multi_tensor({self, t1, t2})) {
    for (std::size_t i = 0; i < self.size(); ++i) {
      const at::Scalar& v = values.size() == 1 ? values[0] : values[i];
      op == hal::TernaryOp::AddCMul ? self[i].addcmul_(t1[i], t2[i], v)
                                    : self[i].addcdiv_(t1[i], t2[i], v);
    }
    return;
  }
  std::vector<double> numbers;
  for (std::size_t i = 0; i < self.size(); ++i)
    numbers.push_back((values.size() == 1 ? values[0] : values[i]).toDouble());
  c10::DeviceGuard guard(self[0].device());
  launch(self[0],
         hal::ForeachTernary{op, describe_all(self), describe_all(t1), describe_all(t2), numbers});
}

template <hal::TernaryOp op>
void addc_scalar_(at::TensorList self, at::TensorList t1, at::TensorList t2,
                  const at::Scalar& value) {
  addc_<op>(self, t1, t2, {value});
}

template <hal::TernaryOp op>
void addc_scalar_list_(at::TensorList self, at::TensorList t1, at::TensorList t2,
                       at::ArrayRef<at::Scalar> values) {
  check_scalar_list(self, values);
  addc_<op>(self, t1, t2, values.vec());
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_foreach_add_.Scalar", apply_scalar_<BinaryOp::Add>);
  m.impl("_foreach_add.Scalar", apply_scalar<BinaryOp::Add>);
  m.impl("_foreach_mul_.Scalar", apply_scalar_<BinaryOp::Mul>);
  m.impl("_foreach_mul.Scalar", apply_scalar<BinaryOp::Mul>);
  m.impl("_foreach_div_.Scalar", apply_scalar_<BinaryOp::Div>);
  m.impl("_foreach_div.Scalar", apply_scalar<BinaryOp::Div>);
  m.impl("_foreach_div_.ScalarList", div_scalar_list_);
  m.impl("_foreach_div.ScalarList", div_scalar_list);
  m.impl("_foreach_add_.List", add_list_);
  m.impl("_foreach_add.List", add_list);
  m.impl("_foreach_maximum_.List", maximum_list_);
  m.impl("_foreach_mul_.Tensor", mul_tensor_);
  m.impl("_foreach_sqrt", sqrt);
  m.impl("_foreach_sqrt_", sqrt_);
  m.impl("_foreach_lerp_.Scalar", lerp_scalar_);
  m.impl("_foreach_addcmul_.Scalar", addc_scalar_<hal::TernaryOp::AddCMul>);
  m.impl("_foreach_addcmul_.ScalarList", addc_scalar_list_<hal::TernaryOp::AddCMul>);
  m.impl("_foreach_addcdiv_.Scalar", addc_scalar_<hal::TernaryOp::AddCDiv>);
  m.impl("_foreach_addcdiv_.ScalarList", addc_scalar_list_<hal::TernaryOp::AddCDiv>);
}

}  // namespace
}  // namespace torch_mlu::ops
