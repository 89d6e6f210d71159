#include "stream.h"

#include <c10/util/Exception.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace torch_mlu {
namespace {

constexpr int kStreamsPerDevice = 1 + 2 * kPoolSize;

struct DeviceStreams {
  std::array<std::atomic<hal::Queue*>, kStreamsPerDevice> queues{};
  std::atomic<unsigned> next_low{0}, next_high{0};
  std::mutex create_mutex;
};

// Queues live as long as the process (like CUDA's stream pools).
std::vector<std::unique_ptr<DeviceStreams>>& all_streams() {
  static auto* streams = [] {
    auto* s = new std::vector<std::unique_ptr<DeviceStreams>>();
    for (int i = 0; i < driver().device_count(); ++i)
      s->push_back(std::make_unique<DeviceStreams>());
    return s;
  }();
  return *streams;
}

// Per device; fixed size so that the noexcept guard functions never allocate.
thread_local std::array<c10::StreamId, hal::kMaxDevices> t_current{};

bool indexable(c10::DeviceIndex device) { return device >= 0 && device < hal::kMaxDevices; }

void check_stream(const c10::Stream& stream) {
  TORCH_CHECK(stream.device_type() == kMLU, "expected an mlu stream, got a stream of ",
              stream.device());
  check_device(stream.device_index());
  TORCH_CHECK(stream.id() >= 0 && stream.id() < kStreamsPerDevice, "invalid mlu stream id ",
              stream.id(), " on ", stream.device(), ": streams are numbered 0 to ",
              kStreamsPerDevice - 1);
}

}  // namespace

c10::Stream default_stream(c10::DeviceIndex device) {
  check_device(device);
  return c10::Stream(c10::Stream::UNSAFE, c10::Device(kMLU, device), 0);
}

c10::Stream current_stream(c10::DeviceIndex device) {
  check_device(device);
  return current_stream_unchecked(device);
}

c10::Stream current_stream_unchecked(c10::DeviceIndex device) noexcept {
  const c10::StreamId id = indexable(device) ? t_current[device] : 0;
  return c10::Stream(c10::Stream::UNSAFE, c10::Device(kMLU, device), id);
}

void set_current_stream(const c10::Stream& stream) {
  check_stream(stream);
  t_current[stream.device_index()] = stream.id();
}

void set_current_stream_unchecked(const c10::Stream& stream) noexcept {
  if (stream.device_type() == kMLU && indexable(stream.device_index())) {
    t_current[stream.device_index()] = stream.id();
  }
}

c10::Stream stream_from_pool(c10::DeviceIndex device, bool high_priority) {
  check_device(device);
  DeviceStreams& streams = *all_streams()[device];
  auto& next = high_priority ? streams.next_high : streams.next_low;
  const c10::StreamId id = 1 + (high_priority ? kPoolSize : 0) + next++ % kPoolSize;
  return c10::Stream(c10::Stream::UNSAFE, c10::Device(kMLU, device), id);
}

int stream_priority(const c10::Stream& stream) {
  check_stream(stream);
  return stream.id() > kPoolSize ? -1 : 0;
}

hal::Queue* queue_of(const c10::Stream& stream) {
  check_stream(stream);
  DeviceStreams& streams = *all_streams()[stream.device_index()];
  auto& slot = streams.queues[stream.id()];
  hal::Queue* queue = slot.load(std::memory_order_acquire);
  if (queue != nullptr) return queue;
  std::lock_guard lock(streams.create_mutex);
  queue = slot.load(std::memory_order_relaxed);
  if (queue == nullptr) {
    queue = hal_call(
        [&] { return driver().create_queue(stream.device_index(), stream_priority(stream)); });
    slot.store(queue, std::memory_order_release);
  }
  return queue;
}

void refuse_in_capture(c10::DeviceIndex device, const std::string& operation) {
  hal::Queue* queue = current_queue(device);
  if (!hal_call([&] { return driver().capturing(queue); })) return;
  try {
    driver().synchronize(queue);  // refused: what invalidates the capture
  } catch (const hal::Error& error) {
    TORCH_CHECK(false, operation, " cannot be captured in an mlu graph: ", error.what());
  }
}

}  // namespace torch_mlu
