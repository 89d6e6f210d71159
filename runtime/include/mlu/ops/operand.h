// An operation's input: a device tensor, or a host value (a CPU scalar) carried inside the
// operation itself and broadcast with zero strides -- no device allocation, no extra kernel for
// `x * 0.5`.
#pragma once

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

struct Operand {
  TensorDesc desc;
  bool host_value = false;
  alignas(8) unsigned char bytes[8] = {};

  Operand() = default;
  Operand(const TensorDesc& tensor) : desc(tensor) {}  // NOLINT: a tensor is an operand

  // Where the device reads the operand, called where the operation runs (the operation may have
  // been copied since it was built): a host value's descriptor points at the carried bytes.
  const TensorDesc& bind() {
    if (host_value) desc.data = bytes;
    return desc;
  }
};

}  // namespace mlu::hal
