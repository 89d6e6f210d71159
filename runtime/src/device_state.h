// One software MLU device: its memory accounting and the failures its queues reported.
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

  // Called by queue executors when work fails; raised by raise_failures().
  void report_failure(const char* work_name, const std::string& what);
  void raise_failures();

 private:
  int index_;
  int physical_id_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::size_t used_ = 0;
  std::unordered_map<void*, std::size_t> blocks_;
  std::vector<std::string> failures_;
};

}  // namespace mlu::soft
