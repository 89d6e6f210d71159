#include "device_state.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace mlu::soft {

namespace {

constexpr std::size_t kAlignment = 512;  // what a DMA engine would want
// Blocks of at least this size are aligned to it and backed by transparent huge pages when the
// host allows (madvise mode): large tensors then stream through memory with fewer TLB misses.
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::string format_bytes(std::size_t bytes) {
  std::ostringstream out;
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  out.precision(unit == 0 ? 0 : 2);
  out << std::fixed << value << " " << units[unit];
  return out.str();
}

}  // namespace

DeviceState::DeviceState(int index, int physical_id, std::size_t capacity)
    : index_(index), physical_id_(physical_id), capacity_(capacity) {}

hal::DeviceProperties DeviceState::properties() const {
  hal::DeviceProperties props;
  props.name = "Software MLU (device " + std::to_string(physical_id_) + ")";
  props.total_memory = capacity_;
  props.compute_units = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  props.major = 1;
  props.minor = 0;
  props.host_accessible = true;
  return props;
}

void* DeviceState::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  std::lock_guard lock(mutex_);
  // rounded < bytes: rounding up wrapped around, and such a request can never fit.
  if (rounded < bytes || rounded > capacity_ - used_) {
    throw hal::Error(hal::ErrorKind::OutOfMemory,
                     "out of memory on mlu:" + std::to_string(index_) + ": tried to allocate " +
                         format_bytes(bytes) + " with " + format_bytes(capacity_ - used_) +
                         " free of " + format_bytes(capacity_) + " total");
  }
  const bool huge = rounded >= kHugePage;
  void* ptr = huge
                  ? std::aligned_alloc(kHugePage, (rounded + kHugePage - 1) / kHugePage * kHugePage)
                  : std::aligned_alloc(kAlignment, rounded);
  if (ptr != nullptr && huge) madvise(ptr, rounded, MADV_HUGEPAGE);  // advice only: errors ignored
  if (ptr == nullptr) {
    throw hal::Error(hal::ErrorKind::OutOfMemory,
                     "host memory backing mlu:" + std::to_string(index_) + " is exhausted");
  }
  used_ += rounded;
  blocks_.emplace(ptr, rounded);
  return ptr;
}

void DeviceState::free(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard lock(mutex_);
  auto it = blocks_.find(ptr);
  if (it == blocks_.end()) {
    throw hal::Error(hal::ErrorKind::InvalidValue,
                     "free of a pointer not allocated on mlu:" + std::to_string(index_));
  }
  used_ -= it->second;
  blocks_.erase(it);
  std::free(ptr);
}

hal::MemoryInfo DeviceState::memory_info() const {
  std::lock_guard lock(mutex_);
  return {capacity_ - used_, capacity_};
}

}  // namespace mlu::soft
