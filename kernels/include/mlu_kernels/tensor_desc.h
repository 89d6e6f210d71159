// What every kernel of the library takes: the device contract's raw descriptors. No ATen, no
// allocation.
#pragma once

#include <stdexcept>
#include <string>

#include "mlu/ops/tensor_desc.h"

namespace mlu::kernels {

// The descriptors, and each family's operation enums and parameters, are the device contract's
// (runtime/include/mlu/ops): the library implements that contract's operations.
using namespace mlu::hal;

// Thrown by kernels for descriptors they cannot handle.
class KernelError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace mlu::kernels
