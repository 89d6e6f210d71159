// The stream-ordered caching allocator for mlu device memory. Freed blocks return to a pool of
// the stream they were allocated on and are reused by later work on that stream without a
// synchronisation; blocks used on other streams (record_stream) wait for those streams first.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/Stream.h>

#include <optional>
#include <utility>

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
// (free, total) bytes of the device, as the driver reports them.
std::pair<std::size_t, std::size_t> memory_info(c10::DeviceIndex device);
// The device owning a pointer returned by the allocator (also interior pointers).
std::optional<c10::DeviceIndex> device_of(const void* ptr);

}  // namespace torch_mlu
