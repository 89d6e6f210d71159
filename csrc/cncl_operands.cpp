#include "cncl_operands.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "device.h"

namespace torch_mlu::cncl {
namespace {

template <typename F>
Tensors each(const Tensors& tensors, F f) {
  Tensors out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(f(t));
  return out;
}

}  // namespace

at::Tensor host_view(const at::Tensor& t) {
  if (t.device().type() != kMLU) return t;
  // The collective runs as device work: it reaches the data as kernels do.
  return at::from_blob(hal::kernel_address(t.data_ptr()), t.sizes(), t.strides(),
                       t.options().device(at::kCPU));
}

Tensors host_views(const Tensors& tensors) { return each(tensors, host_view); }
Tensors flat_host_views(const Tensors& tensors) {
  return each(tensors, [](const at::Tensor& t) { return host_view(t).view(-1); });
}

bool is_16_bit_float(const at::Tensor& t) {
  return t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
}

at::Tensor movable(const at::Tensor& t) {
  at::Tensor v = host_view(t);
  if (v.is_complex()) v = at::view_as_real(v);
  if (!is_16_bit_float(v)) return v;
  TORCH_CHECK(v.dim() == 0 || v.stride(-1) == 1,
              "cncl: 16-bit tensors in collectives need a last dimension of stride 1, got strides ",
              v.strides());
  return (v.dim() == 0 ? v.view({1}) : v).view(at::kByte);
}
Tensors movable(const Tensors& tensors) {
  return each(tensors, [](const at::Tensor& t) { return movable(t); });
}
TensorLists movable(const TensorLists& lists) {
  TensorLists out;
  out.reserve(lists.size());
  for (const auto& list : lists) out.push_back(movable(list));
  return out;
}
Tensors flat_movable(const Tensors& tensors) {
  return each(tensors, [](const at::Tensor& t) { return movable(t).view(-1); });
}

bool on_cpu(const Tensors& tensors) {
  return std::none_of(tensors.begin(), tensors.end(),
                      [](const at::Tensor& t) { return t.device().type() == kMLU; });
}
Tensors concat(Tensors a, const Tensors& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Tensors flatten(const TensorLists& lists) {
  Tensors all;
  for (const auto& list : lists) all.insert(all.end(), list.begin(), list.end());
  return all;
}

void check_same_dtype(const char* name, const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "cncl: ", name,
              "'s tensors share one dtype, got ", a.scalar_type(), " and ", b.scalar_type());
}

void check_parts(const char* name, const at::Tensor& whole, const at::Tensor& part, int parts) {
  check_same_dtype(name, whole, part);
  TORCH_CHECK(whole.is_contiguous() && part.is_contiguous(), "cncl: ", name,
              " takes contiguous tensors");
  TORCH_CHECK(whole.numel() == part.numel() * parts, "cncl: ", name, " needs a tensor of ", parts,
              " x ", part.numel(), " elements (the group's size times the other's), got ",
              whole.numel(), " (shapes ", whole.sizes(), " and ", part.sizes(), ")");
}

void check_splits(const char* name, const at::Tensor& t, const std::vector<int64_t>& splits,
                  int size) {
  TORCH_CHECK(t.is_contiguous(), "cncl: ", name, " takes contiguous tensors");
  if (splits.empty()) {
    TORCH_CHECK(t.dim() > 0 && t.size(0) % size == 0, "cncl: ", name,
                " without split sizes needs a first dimension divisible by the group's size (",
                size, "), got shape ", t.sizes());
    return;
  }
  TORCH_CHECK(static_cast<int>(splits.size()) == size, "cncl: ", name,
              " needs one split size per rank (", size, "), got ", splits.size());
  int64_t total = 0;
  for (int64_t s : splits) {
    TORCH_CHECK(s >= 0, "cncl: ", name, " got a negative split size ", s);
    total += s;
  }
  TORCH_CHECK(t.dim() > 0 && total == t.size(0), "cncl: ", name, "'s split sizes sum to ", total,
              ", but the tensor's first dimension is ", t.dim() > 0 ? t.size(0) : 0);
}

Reduction::Reduction(const c10d::ReduceOp& op, const Tensors& operands, const char* collective)
    : transport_op_(op) {
  const bool avg = op == c10d::ReduceOp::AVG;
  if (avg || op == c10d::ReduceOp::PREMUL_SUM) {
    for (const auto& t : operands) {
      TORCH_CHECK(at::isFloatingType(t.scalar_type()) || at::isComplexType(t.scalar_type()),
                  "cncl: ", collective, " with ReduceOp.", avg ? "AVG" : "PREMUL_SUM",
                  " needs floating-point tensors, got ", t.scalar_type());
    }
    transport_op_ = c10d::ReduceOp::SUM;
  }
  average_ = avg;
  if (op == c10d::ReduceOp::PREMUL_SUM) {
    const auto* supplement =
        dynamic_cast<const c10d::NCCLPreMulSumSupplement*>(op.supplement_.get());
    TORCH_CHECK(supplement != nullptr, "cncl: ", collective,
                " with ReduceOp.PREMUL_SUM needs its factor "
                "(torch.distributed._make_nccl_premul_sum)");
    if (supplement->tensor_factor.defined()) {
      factor_tensor_ = host_view(supplement->tensor_factor);
    } else {
      factor_ = supplement->double_factor;
    }
  }
  for (const auto& t : operands) {
    TORCH_CHECK(!t.is_complex() || transport_op_ == c10d::ReduceOp::SUM, "cncl: ", collective,
                " reduces complex tensors only by SUM, AVG or PREMUL_SUM");
  }
}

at::Tensor Reduction::to_transport(const at::Tensor& v, bool writable) const {
  const bool prescale = factor_.has_value() || factor_tensor_.defined();
  at::Tensor t = v;
  if (v.scalar_type() == at::kHalf || v.scalar_type() == at::kBFloat16) {
    t = v.to(at::kFloat);
  } else if (prescale && !writable) {
    t = v.clone();
  }
  if (prescale) {
    t.mul_(factor_ ? at::scalar_tensor(*factor_, t.options()) : factor_tensor_.to(t.dtype()));
  }
  return t.is_complex() ? at::view_as_real(t) : t;
}

void Reduction::from_transport(const at::Tensor& v, const at::Tensor& moved, int size,
                               bool result) const {
  if (!result) return;
  if (average_) moved.div_(size);
  const at::Tensor reduced = v.is_complex() ? at::view_as_complex(moved) : moved;
  if (reduced.data_ptr() != v.data_ptr()) v.copy_(reduced.reshape(v.sizes()));
}

}  // namespace torch_mlu::cncl
