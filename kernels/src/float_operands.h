// What the kernels on contiguous float32/float64 operands share (detection, deform_conv2d,
// grid_sample): the contiguity check and the dispatch on the floating type.
#pragma once

#include <string>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// Throws KernelError "<op>: <what> must be contiguous" unless d is row-major without gaps.
inline void require_contiguous(const TensorDesc& d, const char* op, const char* what) {
  std::int64_t stride = 1;
  for (int i = d.ndim - 1; i >= 0; --i) {
    if (d.sizes[i] != 1 && d.strides[i] != stride) {
      throw KernelError(std::string(op) + ": " + what + " must be contiguous");
    }
    stride *= d.sizes[i];
  }
}

// Calls run(float{}) or run(double{}) for dtype; anything else is a KernelError naming op.
template <typename F>
void by_float_type(DType dtype, const char* op, F&& run) {
  if (dtype == DType::Float32) {
    run(float{});
  } else if (dtype == DType::Float64) {
    run(double{});
  } else {
    throw KernelError(std::string(op) + ": unsupported dtype " + dtype_name(dtype));
  }
}

}  // namespace mlu::kernels
