// A contiguous float32 copy of an operand, for kernels that compute 16-bit types through a
// float32-only library path (GEMM, oneDNN convolution).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "mlu_kernels/copy.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The calling thread's released copy buffers, reused by later copies: a multi-megabyte block is
// returned to the system when freed, and every page of the next one faults again (float16 batch
// norm backward of a 16x64x16x16 input through float32 copies: 1.5-1.7 ms with fresh buffers,
// 0.7-0.9 ms with reused ones). Kept buffers are bounded in number and in total size.
class Float32Buffers {
 public:
  struct Buffer {
    std::unique_ptr<float[]> data;
    std::size_t capacity = 0;
  };

  static Buffer take(std::size_t n) {
    auto& kept = buffers();
    std::size_t best = kept.size();
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (kept[i].capacity >= n && (best == kept.size() || kept[i].capacity < kept[best].capacity))
        best = i;
    }
    if (best == kept.size()) return Buffer{std::make_unique_for_overwrite<float[]>(n), n};
    Buffer b = std::move(kept[best]);
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(best));
    return b;
  }

  static void give_back(Buffer b) noexcept {
    auto& kept = buffers();
    std::size_t total = b.capacity;
    for (const Buffer& k : kept) total += k.capacity;
    if (total > kKeptFloats) return;  // freed: host memory outside the device's accounting
    if (kept.size() == kKept) {       // the smallest goes: large ones cost the most to fault in
      std::size_t smallest = 0;
      for (std::size_t i = 1; i < kept.size(); ++i)
        if (kept[i].capacity < kept[smallest].capacity) smallest = i;
      if (kept[smallest].capacity < b.capacity) kept[smallest] = std::move(b);
      return;
    }
    kept.push_back(std::move(b));  // cannot throw: capacity is reserved below
  }

 private:
  static constexpr std::size_t kKept = 6;                // a convolution's operands twice over
  static constexpr std::size_t kKeptFloats = 16u << 20;  // 64 MiB per thread at most

  static std::vector<Buffer>& buffers() {
    thread_local std::vector<Buffer> kept = [] {
      std::vector<Buffer> v;
      v.reserve(kKept);
      return v;
    }();
    return kept;
  }
};

class Float32Copy {
 public:
  TensorDesc desc;

  // read: copy the operand's values in (false for an operand the caller only writes).
  Float32Copy(const TensorDesc& of, bool read)
      : desc(of), buffer_(Float32Buffers::take(static_cast<std::size_t>(of.numel()))) {
    desc.dtype = DType::Float32;
    desc.data = buffer_.data.get();
    std::int64_t stride = 1;
    for (int d = desc.ndim - 1; d >= 0; --d) {
      desc.strides[d] = stride;
      stride *= desc.sizes[d];
    }
    if (read) copy(desc, of);
  }
  Float32Copy(const Float32Copy&) = delete;
  Float32Copy& operator=(const Float32Copy&) = delete;
  ~Float32Copy() { Float32Buffers::give_back(std::move(buffer_)); }

 private:
  Float32Buffers::Buffer buffer_;
};

}  // namespace mlu::kernels
