// Devices as PyTorch sees them: the "mlu" device type, the current device, and the translation
// of driver errors into PyTorch errors.
#pragma once

#include <c10/core/Device.h>

#include <utility>

#include "mlu/hal.h"

namespace torch_mlu {

namespace hal = mlu::hal;

constexpr c10::DeviceType kMLU = c10::DeviceType::PrivateUse1;

// The driver, initialised on first use. Throws a PyTorch error when unavailable.
hal::Driver& driver();
// 0 when the driver cannot be initialised (never throws: used by availability checks).
c10::DeviceIndex device_count() noexcept;
bool is_initialized() noexcept;

c10::DeviceIndex current_device();
void set_device(c10::DeviceIndex index);
// Raises a clear error naming the index and the number of devices.
void check_device(c10::DeviceIndex index);

[[noreturn]] void raise_hal_error(const hal::Error& error);

// Runs f, translating driver errors into PyTorch errors (OutOfMemoryError for memory).
template <typename F>
decltype(auto) hal_call(F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const hal::Error& error) {
    raise_hal_error(error);
  }
}

}  // namespace torch_mlu
