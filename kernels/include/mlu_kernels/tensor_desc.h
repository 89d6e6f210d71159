// Raw tensor descriptors: what every kernel of the library takes. No ATen, no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mlu::kernels {

enum class DType : std::uint8_t {
  Float32,
  Float64,
  Float16,
  BFloat16,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt8,
  Bool
};

std::size_t element_size(DType dtype);
const char* dtype_name(DType dtype);

constexpr int kMaxDims = 16;

struct TensorDesc {
  DType dtype = DType::Float32;
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<std::int64_t, kMaxDims> strides{};  // in elements
  void* data = nullptr;                          // address of element (0, ..., 0)

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= sizes[i];
    return n;
  }
};

// Thrown by kernels for descriptors they cannot handle.
class KernelError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace mlu::kernels
