// A float32 vector in device memory, for the operations' tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "mlu/ops.h"
#include "test_support.h"

namespace mlu::test_support {

// A float32 vector in device memory.
class DeviceFloats {
 public:
  explicit DeviceFloats(std::vector<float> values)
      : size_(static_cast<std::int64_t>(values.size())), buffer_(0, values.size() * sizeof(float)) {
    std::memcpy(kernel_floats(), values.data(), values.size() * sizeof(float));
  }
  hal::TensorDesc desc() const {
    hal::TensorDesc d;
    d.ndim = 1;
    d.sizes[0] = size_;
    d.strides[0] = 1;
    d.data = kernel_floats();
    return d;
  }
  std::vector<float> values() const { return {kernel_floats(), kernel_floats() + size_}; }

 private:
  float* kernel_floats() const {
    return reinterpret_cast<float*>(hal::kernel_address(buffer_.get()));
  }
  std::int64_t size_;
  DeviceBuffer buffer_;
};

}  // namespace mlu::test_support
