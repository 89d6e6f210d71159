// The device guard: how PyTorch switches devices and streams and uses events on mlu.
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "allocator.h"
#include "stream.h"

namespace torch_mlu {
namespace {

hal::Notifier* as_notifier(void* event) { return static_cast<hal::Notifier*>(event); }

// torch.Stream(device="mlu") asks with no index: the current device, as CUDA takes it.
c10::DeviceIndex index_of(c10::Device device) {
  return device.has_index() ? device.index() : current_device();
}

struct MLUGuardImpl final : c10::impl::DeviceGuardImplInterface {
  c10::DeviceType type() const override { return kMLU; }

  c10::Device exchangeDevice(c10::Device device) const override {
    const c10::Device old = getDevice();
    if (device.index() != old.index()) set_device(device.index());
    return old;
  }
  c10::Device getDevice() const override { return c10::Device(kMLU, current_device()); }
  void setDevice(c10::Device device) const override { set_device(device.index()); }
  void uncheckedSetDevice(c10::Device device) const noexcept override {
    try {
      set_device(device.index());
    } catch (...) {
    }
  }

  c10::Stream getStream(c10::Device device) const noexcept override {
    return current_stream_unchecked(device.index());
  }
  c10::Stream getDefaultStream(c10::Device device) const override {
    return default_stream(index_of(device));
  }
  c10::Stream getStreamFromGlobalPool(c10::Device device, bool high_priority) const override {
    return stream_from_pool(index_of(device), high_priority);
  }
  c10::Stream getNewStream(c10::Device device, int priority) const override {
    return stream_from_pool(index_of(device), priority < 0);
  }
  c10::Stream exchangeStream(c10::Stream stream) const noexcept override {
    const c10::Stream old = current_stream_unchecked(stream.device_index());
    set_current_stream_unchecked(stream);
    return old;
  }
  c10::DeviceIndex deviceCount() const noexcept override { return device_count(); }

  void record(void** event, const c10::Stream& stream, const c10::DeviceIndex device_index,
              const c10::EventFlag flag) const override {
    TORCH_CHECK(device_index == -1 || device_index == stream.device_index(), "event device index ",
                static_cast<int>(device_index), " does not match the recording stream's device ",
                stream.device());
    if (*event == nullptr) {
      const bool timing = flag != c10::EventFlag::PYTORCH_DEFAULT;
      *event = hal_call([&] { return driver().create_notifier(stream.device_index(), timing); });
    }
    hal::Queue* queue = queue_of(stream);
    hal_call([&] { driver().record(as_notifier(*event), queue); });
  }
  void block(void* event, const c10::Stream& stream) const override {
    if (event == nullptr) return;
    hal::Queue* queue = queue_of(stream);
    hal_call([&] { driver().wait(queue, as_notifier(event)); });
  }
  bool queryEvent(void* event) const override {
    return event == nullptr || hal_call([&] { return driver().query(as_notifier(event)); });
  }
  void destroyEvent(void* event, const c10::DeviceIndex) const noexcept override {
    // A forked child's copy of the parent's event has no driver to go back to.
    if (event == nullptr || hal::forked_after_init()) return;
    without_throwing("destroying an mlu event",
                     [&] { driver().destroy_notifier(as_notifier(event)); });
  }
  void synchronizeEvent(void* event) const override {
    if (event != nullptr) hal_call([&] { driver().synchronize(as_notifier(event)); });
  }
  double elapsedTime(void* start, void* end, const c10::DeviceIndex) const override {
    TORCH_CHECK(start != nullptr && end != nullptr,
                "elapsed_time needs both events to have been recorded");
    return hal_call([&] { return driver().elapsed_ms(as_notifier(start), as_notifier(end)); });
  }

  bool queryStream(const c10::Stream& stream) const override {
    return hal_call([&] { return driver().query(queue_of(stream)); });
  }
  void synchronizeStream(const c10::Stream& stream) const override {
    hal_call([&] { driver().synchronize(queue_of(stream)); });
  }
  void synchronizeDevice(const c10::DeviceIndex device_index) const override {
    check_device(device_index);
    hal_call([&] { driver().synchronize_device(device_index); });
  }
  void recordDataPtrOnStream(const c10::DataPtr& data_ptr,
                             const c10::Stream& stream) const override {
    record_stream(data_ptr, stream);
  }
};

C10_REGISTER_GUARD_IMPL(PrivateUse1, MLUGuardImpl);

}  // namespace
}  // namespace torch_mlu
