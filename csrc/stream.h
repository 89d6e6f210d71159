// Streams: c10::Stream ids mapped onto driver queues. Per device, id 0 is the default stream and
// ids 1..2*kPoolSize index a lazily created pool (low priority first, then high priority).
#pragma once

#include <c10/core/Stream.h>

#include "device.h"

namespace torch_mlu {

constexpr int kPoolSize = 8;

c10::Stream default_stream(c10::DeviceIndex device);
c10::Stream current_stream(c10::DeviceIndex device);
void set_current_stream(const c10::Stream& stream);
// For PyTorch's noexcept guard functions, which cannot raise: nothing is validated here, and a
// stream that does not exist raises a clear error at its first use (queue_of) instead.
c10::Stream current_stream_unchecked(c10::DeviceIndex device) noexcept;
void set_current_stream_unchecked(const c10::Stream& stream) noexcept;
c10::Stream stream_from_pool(c10::DeviceIndex device, bool high_priority);
// Priority as torch reports it: 0 normal, -1 high (lower is higher, as on CUDA).
int stream_priority(const c10::Stream& stream);

hal::Queue* queue_of(const c10::Stream& stream);
inline hal::Queue* current_queue(c10::DeviceIndex device) {
  return queue_of(current_stream(device));
}

// When the device's current stream captures a graph, raises an error saying that `operation`
// cannot be captured, and invalidates the capture (as the driver does for what it refuses).
void refuse_in_capture(c10::DeviceIndex device, const std::string& operation);

}  // namespace torch_mlu
