// The stream-ordered caching allocator for mlu device memory. Freed blocks return to a pool of
// the stream they were allocated on and are reused by later work on that stream without a
// synchronisation; blocks used on other streams (record_stream) wait for those streams first.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/Stream.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "device.h"

namespace torch_mlu {

using c10::CachingDeviceAllocator::DeviceStats;
// A private memory pool of graphs, as PyTorch's MempoolId_t: {0, 0} is no private pool.
using PoolId = std::pair<std::uint64_t, std::uint64_t>;

c10::Allocator* device_allocator();

void record_stream(const c10::DataPtr& data_ptr, const c10::Stream& stream);
// Graph capture: allocations on `stream` come from the private `pool` (shared by the graphs that
// name it) until end_allocating_to_pool; release_pool drops one graph's use of it.
void begin_allocating_to_pool(c10::DeviceIndex device, PoolId pool, c10::StreamId stream);
void end_allocating_to_pool(c10::DeviceIndex device, c10::StreamId stream);
void release_pool(c10::DeviceIndex device, PoolId pool);
void empty_cache();
DeviceStats device_stats(c10::DeviceIndex device);
void reset_peak_stats(c10::DeviceIndex device);
void reset_accumulated_stats(c10::DeviceIndex device);
// Caps what the cache may reserve on a device to fraction * capacity.
void set_memory_fraction(double fraction, c10::DeviceIndex device);
// Memory history (torch.mlu.memory._record_memory_history): where live blocks were allocated,
// and a trace of the allocator's events, for snapshots in PyTorch's format.
struct TraceEntry {
  enum class Action { Alloc, FreeRequested, FreeCompleted, SegmentAlloc, SegmentFree, Oom };
  Action action;
  std::uintptr_t addr;  // for Oom: the device's free bytes, as CUDA's trace has it
  std::size_t size;
  c10::StreamId stream;
  std::int64_t time_us;
  std::shared_ptr<c10::GatheredContext> context;  // where it was allocated (Alloc only)
};
struct BlockSnapshot {
  enum class State { Active, Inactive, PendingFree };
  std::uintptr_t addr;
  std::size_t size;
  std::size_t requested;
  c10::StreamId stream;
  PoolId pool;
  State state;
  std::shared_ptr<c10::GatheredContext> context;
};
struct MemorySnapshot {
  std::vector<BlockSnapshot> blocks;  // every reserved block, each its own segment
  std::vector<TraceEntry> trace;
};
// Gathers the calling context of an allocation (set by the bindings: Python frames).
using ContextRecorder = std::shared_ptr<c10::GatheredContext> (*)();
// Turns contexts into one line each ("file:line in function"), for out-of-memory errors.
using ContextDescriber =
    std::vector<std::string> (*)(const std::vector<std::shared_ptr<c10::GatheredContext>>&);
// recorder null: history off. trace: keep events too, at most max_entries per device.
void record_memory_history(ContextRecorder recorder, bool trace, std::size_t max_entries);
void set_context_describer(ContextDescriber describer);
MemorySnapshot memory_snapshot(c10::DeviceIndex device);

// (free, total) bytes of the device, as the driver reports them.
std::pair<std::size_t, std::size_t> memory_info(c10::DeviceIndex device);
// The device owning a pointer returned by the allocator (also interior pointers).
std::optional<c10::DeviceIndex> device_of(const void* ptr);

}  // namespace torch_mlu
