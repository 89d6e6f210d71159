// One software MLU device: its memory accounting.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlu/hal.h"

namespace mlu::soft {

class DeviceState {
 public:
  DeviceState(int index, int physical_id, std::size_t capacity);

  int index() const { return index_; }
  hal::DeviceProperties properties() const;

  void* allocate(std::size_t bytes);
  void free(void* ptr);
  hal::MemoryInfo memory_info() const;

 private:
  int index_;
  int physical_id_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::size_t used_ = 0;
  std::unordered_map<void*, std::size_t> blocks_;
};

}  // namespace mlu::soft
