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

// The memory-overlap checks of PyTorch CPU's TensorIterator, before anything is written: an
// output whose elements share memory (an expanded tensor) or that partly overlaps an input (a
// shifted view of itself) is an error; the output being exactly an input (in place) is not.
void check_overlap(const at::Tensor& out, std::initializer_list<const at::Tensor*> inputs);

// What an operation carries of an operand: its descriptor and, for a CPU scalar, the value
// itself (hal::Operand). Never an at::Tensor: work may outlive the Python object, and releasing a
// tensor that still has one would need the GIL on the queue's thread.
using CapturedOperand = hal::Operand;

// An operand ready for an operation: the device tensor it needs (kept alive until launch) and
// what the operation carries.
struct KernelOperand {
  at::Tensor tensor;
  CapturedOperand captured;
};
KernelOperand kernel_operand(const at::Tensor& t, c10::ScalarType dtype, c10::IntArrayRef shape,
                             c10::Device device);

// A Python number as ATen passes it to Tensor overloads: a CPU 0-d tensor marked as a wrapped
// number, so that type promotion gives it the lowest priority (uint8 == -1 compares in uint8).
at::Tensor python_number(const at::Scalar& value);

// The dtype floating-point operations compute in: integral inputs promote to the default float.
c10::ScalarType floating_type(c10::ScalarType type);

}  // namespace torch_mlu::ops
