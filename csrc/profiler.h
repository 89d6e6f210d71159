// Device activities for torch.profiler: while a trace records, every kernel a queue runs is an
// activity (name, device, stream, start and end as the queue ran it, and the correlation id of
// the operator that launched it), delivered to Kineto as its PrivateUse1 child profiler.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/Stream.h>

#include <atomic>

#include "mlu/hal.h"

namespace torch_mlu::profiler {

namespace hal = mlu::hal;

namespace detail {
extern std::atomic<bool> recording;
}

// One relaxed load: what launching pays while no trace records.
inline bool recording() noexcept { return detail::recording.load(std::memory_order_relaxed); }

// work, timed when it runs and reported as an activity of the trace.
hal::Work traced(const char* name, c10::DeviceIndex device, c10::StreamId stream, hal::Work work);

// Registers the child profiler with Kineto (once, at import).
void register_with_kineto();

}  // namespace torch_mlu::profiler
