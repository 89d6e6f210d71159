// The _foreach_* operators the optimizers (foreach=True, their default on mlu) and gradient
// clipping use, as multi-tensor kernels: one launch per call runs the elementwise kernel of every
// tensor on the device, instead of one launch per tensor. Lists PyTorch's own fast path would not
// take either (mixed dtypes or shapes at one index, non-contiguous tensors, other devices, integer
// tensors) run tensor by tensor through the ordinary operators.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "common.h"
#include "mlu_kernels/elementwise.h"

namespace torch_mlu::ops {
namespace {

using kernels::BinaryOp;
using Descs = std::vector<kernels::TensorDesc>;

// Whether one launch can serve the lists: equal lengths, every tensor a contiguous floating
// tensor on the first one's mlu device, tensors at one index of one dtype and shape.
bool multi_tensor(std::initializer_list<at::TensorList> lists) {
  const at::TensorList first = *lists.begin();
  if (first.empty()) return false;
  const c10::Device device = first[0].device();
  if (device.type() != kMLU) return false;
  for (const at::TensorList list : lists) {
    if (list.size() != first.size()) return false;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const at::Tensor& t = list[i];
      if (t.device() != device || !t.is_contiguous() || !c10::isFloatingType(t.scalar_type()) ||
          t.scalar_type() != first[i].scalar_type() || t.sizes() != first[i].sizes()) {
        return false;
      }
    }
  }
  return true;
}

Descs describe_all(at::TensorList list) {
  Descs descs;
  descs.reserve(list.size());
  for (const at::Tensor& t : list) descs.push_back(describe(t.view(-1)));
  return descs;
}

std::vector<at::Tensor> empty_like_all(at::TensorList list) {
  std::vector<at::Tensor> out;
  out.reserve(list.size());
  for (const at::Tensor& t : list) out.push_back(at::empty_like(t));
  return out;
}

// A number that adds to a 16-bit tensor is rounded to its dtype first, as PyTorch CPU does (it
// keeps factors and divisors in float).
double addend(const at::Scalar& value, c10::ScalarType dtype) {
  if (dtype == at::kHalf) return static_cast<float>(value.to<c10::Half>());
  if (dtype == at::kBFloat16) return static_cast<float>(value.to<c10::BFloat16>());
  return value.toDouble();
}

// out[i] = self[i] op number[i] in one launch.
void scalar_into(BinaryOp op, at::TensorList self, const std::vector<double>& numbers,
                 at::TensorList out) {
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], "foreach_binary", [op, o = describe_all(out), a = describe_all(self), numbers] {
    for (std::size_t i = 0; i < o.size(); ++i) kernels::binary_scalar(op, o[i], a[i], numbers[i]);
  });
}

std::vector<double> numbers_for(BinaryOp op, at::TensorList self,
                                at::ArrayRef<at::Scalar> scalars) {
  std::vector<double> numbers;
  for (std::size_t i = 0; i < self.size(); ++i) {
    const at::Scalar& s = scalars.size() == 1 ? scalars[0] : scalars[i];
    numbers.push_back(op == BinaryOp::Add ? addend(s, self[i].scalar_type()) : s.toDouble());
  }
  return numbers;
}

template <BinaryOp op>
void apply_scalar_(at::TensorList self, const at::Scalar& scalar) {
  if (!multi_tensor({self}) || scalar.isComplex()) {
    for (const at::Tensor& t : self)
      op == BinaryOp::Add ? t.add_(scalar) : op == BinaryOp::Mul ? t.mul_(scalar) : t.div_(scalar);
    return;
  }
  scalar_into(op, self, numbers_for(op, self, scalar), self);
}

template <BinaryOp op>
std::vector<at::Tensor> apply_scalar(at::TensorList self, const at::Scalar& scalar) {
  if (!multi_tensor({self}) || scalar.isComplex()) {
    std::vector<at::Tensor> out;
    for (const at::Tensor& t : self)
      out.push_back(op == BinaryOp::Add   ? t.add(scalar)
                    : op == BinaryOp::Mul ? t.mul(scalar)
                                          : t.div(scalar));
    return out;
  }
  std::vector<at::Tensor> out = empty_like_all(self);
  scalar_into(op, self, numbers_for(op, self, scalar), out);
  return out;
}

void check_scalar_list(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  TORCH_CHECK(scalars.size() == self.size(),
              "Tensor list must have same number of elements as scalar list, got ", self.size(),
              " and ", scalars.size());
}

void div_scalar_list_(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  check_scalar_list(self, scalars);
  if (!multi_tensor({self})) {
    for (std::size_t i = 0; i < self.size(); ++i) self[i].div_(scalars[i]);
    return;
  }
  scalar_into(BinaryOp::Div, self, numbers_for(BinaryOp::Div, self, scalars), self);
}

std::vector<at::Tensor> div_scalar_list(at::TensorList self, at::ArrayRef<at::Scalar> scalars) {
  check_scalar_list(self, scalars);
  if (!multi_tensor({self})) {
    std::vector<at::Tensor> out;
    for (std::size_t i = 0; i < self.size(); ++i) out.push_back(self[i].div(scalars[i]));
    return out;
  }
  std::vector<at::Tensor> out = empty_like_all(self);
  scalar_into(BinaryOp::Div, self, numbers_for(BinaryOp::Div, self, scalars), out);
  return out;
}

void check_same_length(at::TensorList self, at::TensorList other) {
  TORCH_CHECK(self.size() == other.size(),
              "Tensor lists must have the same number of tensors, got ", self.size(), " and ",
              other.size());
}

void list_into(BinaryOp op, at::TensorList self, at::TensorList other, const at::Scalar& alpha,
               at::TensorList out) {
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], "foreach_binary",
         [op, o = describe_all(out), a = describe_all(self), b = describe_all(other),
          alpha = alpha.toDouble()] {
           for (std::size_t i = 0; i < o.size(); ++i) kernels::binary(op, o[i], a[i], b[i], alpha);
         });
}

void add_list_(at::TensorList self, at::TensorList other, const at::Scalar& alpha) {
  check_same_length(self, other);
  if (!multi_tensor({self, other})) {
    for (std::size_t i = 0; i < self.size(); ++i) self[i].add_(other[i], alpha);
    return;
  }
  list_into(BinaryOp::Add, self, other, alpha, self);
}

std::vector<at::Tensor> add_list(at::TensorList self, at::TensorList other,
                                 const at::Scalar& alpha) {
  check_same_length(self, other);
  if (!multi_tensor({self, other})) {
    std::vector<at::Tensor> out;
    for (std::size_t i = 0; i < self.size(); ++i) out.push_back(self[i].add(other[i], alpha));
    return out;
  }
  std::vector<at::Tensor> out = empty_like_all(self);
  list_into(BinaryOp::Add, self, other, alpha, out);
  return out;
}

// Adam's amsgrad: max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq).
void maximum_list_(at::TensorList self, at::TensorList other) {
  check_same_length(self, other);
  if (!multi_tensor({self, other})) {
    for (std::size_t i = 0; i < self.size(); ++i) self[i].copy_(at::maximum(self[i], other[i]));
    return;
  }
  list_into(BinaryOp::Maximum, self, other, 1, self);
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
  launch(self[0], "foreach_binary", [a = describe_all(self), factor = describe(other)] {
    for (const kernels::TensorDesc& d : a) {
      kernels::TensorDesc broadcast = factor;
      broadcast.ndim = d.ndim;
      for (int k = 0; k < d.ndim; ++k) broadcast.sizes[k] = d.sizes[k], broadcast.strides[k] = 0;
      kernels::binary(BinaryOp::Mul, d, d, broadcast);
    }
  });
}

void sqrt_into(at::TensorList self, at::TensorList out) {
  c10::DeviceGuard guard(self[0].device());
  launch(out[0], "foreach_unary", [o = describe_all(out), a = describe_all(self)] {
    for (std::size_t i = 0; i < o.size(); ++i) kernels::unary(kernels::UnaryOp::Sqrt, o[i], a[i]);
  });
}

std::vector<at::Tensor> sqrt(at::TensorList self) {
  if (!multi_tensor({self})) {
    std::vector<at::Tensor> out;
    for (const at::Tensor& t : self) out.push_back(t.sqrt());
    return out;
  }
  std::vector<at::Tensor> out = empty_like_all(self);
  sqrt_into(self, out);
  return out;
}

void sqrt_(at::TensorList self) {
  if (!multi_tensor({self})) {
    for (const at::Tensor& t : self) t.sqrt_();
    return;
  }
  sqrt_into(self, self);
}

void lerp_scalar_(at::TensorList self, at::TensorList end, const at::Scalar& weight) {
  if (!multi_tensor({self, end})) {
    for (std::size_t i = 0; i < self.size(); ++i) self[i].lerp_(end[i], weight);
    return;
  }
  c10::DeviceGuard guard(self[0].device());
  launch(self[0], "foreach_lerp",
         [a = describe_all(self), b = describe_all(end), w = weight.toDouble()] {
           for (std::size_t i = 0; i < a.size(); ++i) kernels::lerp_scalar(a[i], a[i], b[i], w);
         });
}

// self[i] += values[i] * t1[i] op t2[i] for addcmul and addcdiv.
template <kernels::TernaryOp op>
void addc_(at::TensorList self, at::TensorList t1, at::TensorList t2,
           const std::vector<at::Scalar>& values) {
  TORCH_CHECK(self.size() == t1.size() && self.size() == t2.size(),
              "Tensor lists must have the same number of tensors, got ", self.size(), ", ",
              t1.size(), " and ", t2.size());
  if (!multi_tensor({self, t1, t2})) {
    for (std::size_t i = 0; i < self.size(); ++i) {
      const at::Scalar& v = values.size() == 1 ? values[0] : values[i];
      op == kernels::TernaryOp::AddCMul ? self[i].addcmul_(t1[i], t2[i], v)
                                        : self[i].addcdiv_(t1[i], t2[i], v);
    }
    return;
  }
  std::vector<double> numbers;
  for (std::size_t i = 0; i < self.size(); ++i)
    numbers.push_back((values.size() == 1 ? values[0] : values[i]).toDouble());
  c10::DeviceGuard guard(self[0].device());
  launch(self[0], "foreach_ternary",
         [a = describe_all(self), b = describe_all(t1), c = describe_all(t2), numbers] {
           for (std::size_t i = 0; i < a.size(); ++i)
             kernels::ternary(op, a[i], a[i], b[i], c[i], numbers[i]);
         });
}

template <kernels::TernaryOp op>
void addc_scalar_(at::TensorList self, at::TensorList t1, at::TensorList t2,
                  const at::Scalar& value) {
  addc_<op>(self, t1, t2, {value});
}

template <kernels::TernaryOp op>
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
  m.impl("_foreach_addcmul_.Scalar", addc_scalar_<kernels::TernaryOp::AddCMul>);
  m.impl("_foreach_addcmul_.ScalarList", addc_scalar_list_<kernels::TernaryOp::AddCMul>);
  m.impl("_foreach_addcdiv_.Scalar", addc_scalar_<kernels::TernaryOp::AddCDiv>);
  m.impl("_foreach_addcdiv_.ScalarList", addc_scalar_list_<kernels::TernaryOp::AddCDiv>);
}

}  // namespace
}  // namespace torch_mlu::ops
