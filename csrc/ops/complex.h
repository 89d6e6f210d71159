// Complex tensors in the elementwise operators: elementwise.cpp hands them here, where the
// operations complex numbers have run as the device's complex operations (mlu/ops/complex.h).
#pragma once

#include <ATen/core/Tensor.h>

#include "../tensor_desc.h"

namespace torch_mlu::ops {

// out = a op b for add, sub (with alpha), mul and div when an operand or out is complex.
at::Tensor& complex_binary_into(hal::BinaryOp op, const at::Tensor& a, const at::Tensor& b,
                                at::Tensor& out, double alpha);

// op(self) for a complex self: neg, reciprocal and exp stay complex, abs is real. out undefined:
// a new result.
at::Tensor complex_unary(hal::UnaryOp op, const at::Tensor& self, const at::Tensor& out);

// torch.sgn of a complex self, z / |z| (torch.sign refuses complex numbers, as on CPU).
at::Tensor complex_sgn(const at::Tensor& self, const at::Tensor& out);

}  // namespace torch_mlu::ops
