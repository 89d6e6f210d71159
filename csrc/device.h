// Devices as PyTorch sees them: the "mlu" device type, the current device, and the translation
// of driver errors into PyTorch errors.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
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

// Whether the host may read and write the device's memory directly (hal::DeviceProperties). When
// not, host code reaches device data only through the driver's copies.
bool host_accessible(c10::DeviceIndex device);

c10::DeviceIndex current_device();
void set_device(c10::DeviceIndex index);
// Raises a clear error naming the index and the number of devices. Wide, so that an index from
// Python is checked before it is narrowed to PyTorch's 8-bit DeviceIndex (256 would be mlu:0).
void check_device(std::int64_t index);
inline c10::DeviceIndex checked_device_index(std::int64_t index) {
  check_device(index);
  return static_cast<c10::DeviceIndex>(index);
}

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

// For deleters, destructors and noexcept functions, where an exception would terminate the
// process and there is no caller to raise it to: runs f and reports a failure on stderr.
void report_swallowed(const char* where, const char* what) noexcept;
template <typename F>
void without_throwing(const char* where, F&& f) noexcept {
  try {
    std::forward<F>(f)();
  } catch (const std::exception& e) {
    report_swallowed(where, e.what());
  } catch (...) {
    report_swallowed(where, "unknown exception");
  }
}

}  // namespace torch_mlu
