// Device activities for torch.profiler: while a trace records, every kernel, copy and graph replay
// a queue runs is an activity (name, device, stream, start and end as the queue ran it, and the
// correlation id of the operator that launched it), delivered to Kineto as its PrivateUse1 child
// profiler.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/Stream.h>

#include <atomic>
#include <functional>

#include "mlu/hal.h"

namespace torch_mlu::profiler {

namespace hal = mlu::hal;

namespace detail {
extern std::atomic<bool> recording;
}

// One relaxed load: what launching pays while no trace records.
inline bool recording() noexcept { return detail::recording.load(std::memory_order_relaxed); }

// work, timed when it runs and reported as a kernel of the trace.
hal::Work traced(const char* name, c10::DeviceIndex device, c10::StreamId stream, hal::Work work);

// What a span of a queue's work is: a kernel (a device operation), a copy or a graph replay.
enum class Span { Kernel, Copy, GraphReplay };

// Calls enqueue (which puts an operation, a copy or a graph replay on queue) between two marks on
// the same queue that time what it enqueued as one activity of the trace. The marks are work of the
// queue, so a failing enqueue leaves at most an unreported start mark behind.
void traced_span(Span kind, const char* name, c10::DeviceIndex device, c10::StreamId stream,
                 hal::Queue* queue, const std::function<void()>& enqueue);

// Registers the child profiler with Kineto (once, at import).
void register_with_kineto();

}  // namespace torch_mlu::profiler
