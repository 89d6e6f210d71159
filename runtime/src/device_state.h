// One software MLU device: its memory and its accounting.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "double_mapping.h"
#include "mlu/hal.h"

namespace mlu::soft {

class DeviceState {
 public:
  // Memory from the host's heap; with a mapping, from `capacity` bytes of it at `offset` (strict
  // device memory).
  DeviceState(int index, int physical_id, std::size_t capacity, DoubleMapping* mapping = nullptr,
              std::size_t offset = 0);

  int index() const { return index_; }
  hal::DeviceProperties properties() const;

  void* allocate(std::size_t bytes);
  void free(void* ptr);
  hal::MemoryInfo memory_info() const;
  // Lock-free: also called in a forked child, where another thread may have held the mutex.
  bool has_allocations() const { return live_blocks_.load() > 0; }

 private:
  void* take_range(std::size_t bytes, std::size_t alignment);  // strict mode, mutex_ held
  void return_range(char* ptr, std::size_t bytes);             // likewise

  int index_;
  int physical_id_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::size_t used_ = 0;
  std::unordered_map<void*, std::size_t> blocks_;
  std::atomic<std::size_t> live_blocks_{0};  // blocks_.size()
  DoubleMapping* mapping_;
  std::size_t offset_;                       // of this device's part of the mapping
  std::map<std::size_t, std::size_t> free_;  // strict mode: free ranges, offset -> bytes
};

}  // namespace mlu::soft
