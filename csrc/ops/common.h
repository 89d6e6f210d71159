// What every native operator wrapper needs: device checks, operand preparation, launching.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "../tensor_desc.h"

namespace torch_mlu::ops {

// The mlu device of the operands; other mlu devices or non-scalar CPU tensors are an error.
c10::Device common_device(std::initializer_list<const at::Tensor*> tensors);

// t as an operand of dtype and shape on device: CPU scalars are filled on the device, other
// dtypes are converted there, smaller shapes broadcast with zero strides.
at::Tensor operand(const at::Tensor& t, c10::ScalarType dtype, c10::IntArrayRef shape,
                   c10::Device device);

// A new output of shape and dtype, in the memory format of like when it has that shape.
at::Tensor new_output(c10::IntArrayRef shape, c10::ScalarType dtype, const at::Tensor& like,
                      c10::Device device);

// Resizes an out= tensor to shape (as ATen's resize_output does) and checks it can take dtype.
void prepare_out(const at::Tensor& out, c10::IntArrayRef shape, c10::ScalarType dtype,
                 c10::Device device);

// The dtype floating-point operations compute in: integral inputs promote to the default float.
c10::ScalarType floating_type(c10::ScalarType type);

}  // namespace torch_mlu::ops
