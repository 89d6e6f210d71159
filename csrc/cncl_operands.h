// The cncl backend's operands as its host transport (gloo) takes them, and the argument checks
// that must raise at the call rather than on the communication stream.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <vector>

namespace torch_mlu::cncl {

using Tensors = std::vector<at::Tensor>;
using TensorLists = std::vector<Tensors>;

// mlu memory aliased in place as a CPU tensor (the software MLU's device memory is host memory);
// CPU tensors as they are.
at::Tensor host_view(const at::Tensor& t);
Tensors host_views(const Tensors& tensors);
// host_view() of contiguous tensors, as one dimension.
Tensors flat_host_views(const Tensors& tensors);
bool is_16_bit_float(const at::Tensor& t);
// A host view the transport can move whatever its dtype: 16-bit floats as bytes, the last
// dimension doubled (the transport has no 16-bit integers, and PyTorch 2.14's Debian build of it
// no 16-bit floats), complex numbers as pairs of reals (a new last dimension).
at::Tensor movable(const at::Tensor& t);
Tensors movable(const Tensors& tensors);
TensorLists movable(const TensorLists& lists);
// movable() of contiguous tensors, as one dimension.
Tensors flat_movable(const Tensors& tensors);

bool on_cpu(const Tensors& tensors);
Tensors concat(Tensors a, const Tensors& b);
Tensors flatten(const TensorLists& lists);

void check_same_dtype(const char* name, const at::Tensor& a, const at::Tensor& b);
// `whole` holds `parts` times `part`'s elements, as all_gather_into_tensor's output and
// reduce_scatter_tensor's input do.
void check_parts(const char* name, const at::Tensor& whole, const at::Tensor& part, int parts);
void check_splits(const char* name, const at::Tensor& t, const std::vector<int64_t>& splits,
                  int size);

// A reduction in the transport's terms. The transport has neither AVG nor PREMUL_SUM (a sum
// divided by the group's size, a sum of pre-scaled inputs), and reduces 16-bit floats in float
// (it may not have them; float also accumulates better) and complex numbers as pairs of reals.
class Reduction {
 public:
  Reduction(const c10d::ReduceOp& op, const Tensors& operands, const char* collective);
  const c10d::ReduceOp& transport_op() const { return transport_op_; }
  // Inside the collective: what the transport reduces for the host view `v`; `writable` when
  // the collective may change `v` in place before reducing it (an in-place collective).
  at::Tensor to_transport(const at::Tensor& v, bool writable) const;
  // Inside the collective: the reduced `moved` back into `v`; `result` false where the
  // collective leaves no result (reduce on other ranks than the root).
  void from_transport(const at::Tensor& v, const at::Tensor& moved, int size,
                      bool result = true) const;

 private:
  c10d::ReduceOp transport_op_;
  bool average_ = false;
  std::optional<double> factor_;
  at::Tensor factor_tensor_;  // host view of a one-element tensor
};

}  // namespace torch_mlu::cncl
