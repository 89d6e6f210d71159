// A contiguous float32 copy of an operand, for kernels that compute 16-bit types through a
// float32-only library path (GEMM, oneDNN convolution).
#pragma once

#include <cstdint>
#include <memory>

#include "mlu_kernels/copy.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct Float32Copy {
  std::unique_ptr<float[]> storage;  // not zeroed: an operand only written needs no first pass
  TensorDesc desc;

  // read: copy the operand's values in (false for an operand the caller only writes).
  Float32Copy(const TensorDesc& of, bool read)
      : storage(std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(of.numel()))),
        desc(of) {
    desc.dtype = DType::Float32;
    desc.data = storage.get();
    std::int64_t stride = 1;
    for (int d = desc.ndim - 1; d >= 0; --d) {
      desc.strides[d] = stride;
      stride *= desc.sizes[d];
    }
    if (read) copy(desc, of);
  }
};

}  // namespace mlu::kernels
