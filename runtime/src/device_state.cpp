#include "device_state.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace mlu::soft {

namespace {

constexpr std::size_t kAlignment = 512;  // what a DMA engine would want
constexpr std::size_t kPage = 4096;
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

DeviceState::DeviceState(int index, int physical_id, std::size_t capacity, DoubleMapping* mapping,
                         std::size_t offset)
    : index_(index),
      physical_id_(physical_id),
      capacity_(capacity),
      mapping_(mapping),
      offset_(offset) {
  if (mapping_ != nullptr && capacity_ > 0) free_.emplace(0, capacity_);
}

hal::DeviceProperties DeviceState::properties() const {
  hal::DeviceProperties props;
  props.name = "Software MLU (device " + std::to_string(physical_id_) + ")";
  props.total_memory = capacity_;
  cpu_set_t cores;  // those the process may run on (taskset, a cpuset), not all the host's
  props.compute_units = sched_getaffinity(0, sizeof(cores), &cores) == 0
                            ? std::max(1, CPU_COUNT(&cores))
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  props.major = 1;
  props.minor = 0;
  props.host_accessible = mapping_ == nullptr;
  return props;
}

void* DeviceState::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  // Whole pages in strict mode: a freed block's pages go back to the host.
  const std::size_t alignment = mapping_ != nullptr ? kPage : kAlignment;
  const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  std::lock_guard lock(mutex_);
  // rounded < bytes: rounding up wrapped around, and such a request can never fit.
  if (rounded < bytes || rounded > capacity_ - used_) {
    throw hal::Error(hal::ErrorKind::OutOfMemory,
                     "out of memory on mlu:" + std::to_string(index_) + ": tried to allocate " +
                         format_bytes(bytes) + " with " + format_bytes(capacity_ - used_) +
                         " free of " + format_bytes(capacity_) + " total");
  }
  const bool huge = rounded >= kHugePage;
  if (mapping_ != nullptr) {
    void* ptr = take_range(rounded, huge ? kHugePage : kPage);
    used_ += rounded;
    blocks_.emplace(ptr, rounded);
    live_blocks_.store(blocks_.size());
    return ptr;
  }
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
  live_blocks_.store(blocks_.size());
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
  if (mapping_ != nullptr)
    return_range(static_cast<char*>(ptr), it->second);
  else
    std::free(ptr);
  blocks_.erase(it);
  live_blocks_.store(blocks_.size());
}

void* DeviceState::take_range(std::size_t bytes, std::size_t alignment) {
  // First fit. Blocks come from the caching allocator above, so there are few.
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const std::size_t start =
        (offset_ + it->first + alignment - 1) / alignment * alignment - offset_;
    const std::size_t end = it->first + it->second;
    if (start > end || end - start < bytes) continue;
    const std::size_t before = start - it->first, after = end - start - bytes;
    const std::size_t range_start = it->first;
    free_.erase(it);
    if (before > 0) free_.emplace(range_start, before);
    if (after > 0) free_.emplace(start + bytes, after);
    return mapping_->device_base() + offset_ + start;
  }
  // The accounting allowed it, but no free range is long enough.
  throw hal::Error(hal::ErrorKind::OutOfMemory, "out of memory on mlu:" + std::to_string(index_) +
                                                    ": tried to allocate " + format_bytes(bytes) +
                                                    "; " + format_bytes(capacity_ - used_) +
                                                    " are free but fragmented");
}

void DeviceState::return_range(char* ptr, std::size_t bytes) {
  std::size_t start = static_cast<std::size_t>(ptr - mapping_->device_base()) - offset_;
  mapping_->release(offset_ + start, bytes);
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + bytes) {
    bytes += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == start) {
      start = previous->first;
      bytes += previous->second;
      free_.erase(previous);
    }
  }
  free_.emplace(start, bytes);
}

hal::MemoryInfo DeviceState::memory_info() const {
  std::lock_guard lock(mutex_);
  return {capacity_ - used_, capacity_};
}

}  // namespace mlu::soft
