// Descriptors over std::vector storage for the kernel tests.
#pragma once

#include <initializer_list>
#include <vector>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels::testing {

// A contiguous descriptor of the given shape over data (row-major).
template <typename T>
TensorDesc contiguous(DType dtype, std::vector<T>& data,
                      std::initializer_list<std::int64_t> shape) {
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = static_cast<int>(shape.size());
  int i = 0;
  for (std::int64_t s : shape) d.sizes[i++] = s;
  std::int64_t stride = 1;
  for (int k = d.ndim - 1; k >= 0; --k) {
    d.strides[k] = stride;
    stride *= d.sizes[k];
  }
  d.data = data.data();
  return d;
}

}  // namespace mlu::kernels::testing
