// PrivateUse1 hooks: how ATen asks the backend for generators, pinned memory and device state.
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <c10/core/StorageImpl.h>

#include "allocator.h"
#include "generator.h"
#include "host_allocator.h"
#include "stream.h"
#include "tensor_desc.h"

namespace torch_mlu {
namespace {

struct MLUHooks final : at::PrivateUse1HooksInterface {
  void init() const override { driver(); }
  bool hasPrimaryContext(c10::DeviceIndex device) const override {
    return is_initialized() && device >= 0 && device < device_count();
  }
#if TORCH_MLU_TORCH_VERSION >= 209
  bool isBuilt() const override { return true; }
  bool isAvailable() const override { return device_count() > 0; }
#endif
  c10::DeviceIndex deviceCount() const override { return device_count(); }
  void setCurrentDevice(c10::DeviceIndex device) const override { set_device(device); }
  c10::DeviceIndex getCurrentDevice() const override { return current_device(); }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex device) const override {
    const c10::DeviceIndex old = current_device();
    if (device >= 0) set_device(device);
    return old;
  }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex device) const override {
    return exchangeDevice(device);
  }

  const at::Generator& getDefaultGenerator(c10::DeviceIndex device) const override {
    return default_generator(device);
  }
  at::Generator getNewGenerator(c10::DeviceIndex device) const override {
    return new_generator(device);
  }

  at::Device getDeviceFromPtr(void* data) const override {
    auto device = device_of(data);
    TORCH_CHECK(device.has_value(), "pointer ", data, " is not mlu device memory");
    return c10::Device(kMLU, *device);
  }
  bool isPinnedPtr(const void* data) const override { return is_pinned(data); }
  c10::Allocator* getPinnedMemoryAllocator() const override { return host_allocator(); }

  // Growing a storage in place: new memory, the old contents copied on the current stream.
  void resizePrivateUse1Bytes(const c10::Storage& storage, std::size_t new_bytes) const override {
    TORCH_CHECK(storage.resizable(), "Trying to resize storage that is not resizable");
    c10::StorageImpl* impl = storage.unsafeGetStorageImpl();
    c10::DataPtr fresh = impl->allocator()->allocate(new_bytes);
    const std::size_t keep = std::min(new_bytes, impl->nbytes());
    if (keep > 0) {
      enqueue_copy(fresh.device().index(), fresh.get(), impl->data(), keep,
                   hal::CopyKind::DeviceToDevice);
    }
    impl->set_data_ptr_noswap(std::move(fresh));
    impl->set_nbytes(new_bytes);
  }
};

const bool g_registered = [] {
  at::RegisterPrivateUse1HooksInterface(new MLUHooks());
  return true;
}();

}  // namespace
}  // namespace torch_mlu
