#include "device.h"

#include <c10/util/Exception.h>

#include <atomic>

namespace torch_mlu {
namespace {

std::atomic<bool> g_initialized{false};
thread_local c10::DeviceIndex t_current_device = 0;

}  // namespace

void raise_hal_error(const hal::Error& error) {
  switch (error.kind()) {
    case hal::ErrorKind::OutOfMemory: TORCH_CHECK_WITH(OutOfMemoryError, false, error.what());
    case hal::ErrorKind::InvalidValue: TORCH_CHECK_VALUE(false, error.what());
    default: TORCH_CHECK(false, error.what());
  }
}

hal::Driver& driver() {
  hal::Driver& d = hal_call([]() -> hal::Driver& { return hal::driver(); });
  g_initialized.store(true, std::memory_order_relaxed);
  return d;
}

bool is_initialized() noexcept {
  return g_initialized.load(std::memory_order_relaxed) && !hal::forked_after_init();
}

c10::DeviceIndex device_count() noexcept {
  try {
    return static_cast<c10::DeviceIndex>(hal::driver().device_count());
  } catch (...) {
    return 0;
  }
}

void check_device(c10::DeviceIndex index) {
  const int count = driver().device_count();
  TORCH_CHECK(index >= 0 && index < count, "Invalid MLU device index ", static_cast<int>(index),
              ": there ", count == 1 ? "is " : "are ", count, " MLU device", count == 1 ? "" : "s",
              " (valid indices are 0 to ", count - 1, ")");
}

c10::DeviceIndex current_device() {
  driver();
  return t_current_device;
}

void set_device(c10::DeviceIndex index) {
  check_device(index);
  t_current_device = index;
}

}  // namespace torch_mlu
