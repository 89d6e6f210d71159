#include "device.h"

#include <c10/util/Exception.h>

#include <array>
#include <atomic>
#include <cstdio>

#include "fallback.h"
#include "host_access.h"
#include "mlu/ops/capabilities.h"

namespace torch_mlu {
namespace {

std::atomic<bool> g_initialized{false};
thread_local c10::DeviceIndex t_current_device = 0;
// Per device: 0 not yet asked, 1 host-accessible, 2 not.
std::array<std::atomic<std::int8_t>, hal::kMaxDevices> g_host_accessible{};

}  // namespace

void report_swallowed(const char* where, const char* what) noexcept {
  std::fprintf(stderr, "torch_mlu: %s failed: %s\n", where, what);
}

void raise_hal_error(const hal::Error& error) {
  switch (error.kind()) {
    case hal::ErrorKind::OutOfMemory: TORCH_CHECK_WITH(OutOfMemoryError, false, error.what());
    case hal::ErrorKind::InvalidValue: TORCH_CHECK_VALUE(false, error.what());
    default: TORCH_CHECK(false, error.what());
  }
}

// Settings read outside the runtime are checked where the runtime checks its own: at first use,
// as a ValueError naming the variable (the readers themselves fall back to defaults silently).
void validate_environment() {
  hal::check_operation_settings();
  fallback_enabled_from_environment();
}

hal::Driver& driver() {
  auto get = []() -> hal::Driver& {
    return hal_call([]() -> hal::Driver& { return hal::driver(); });
  };
  if (g_initialized.load(std::memory_order_acquire)) return get();
  try {
    validate_environment();
    hal::Driver& d = get();
    if (d.device_count() > 0 && !d.properties(0).host_accessible) report_host_access_faults();
    g_initialized.store(true, std::memory_order_release);
    return d;
  } catch (const std::invalid_argument& e) {
    TORCH_CHECK_VALUE(false, e.what());
  }
}

bool is_initialized() noexcept {
  return g_initialized.load(std::memory_order_relaxed) && !hal::forked_after_init();
}

c10::DeviceIndex device_count() noexcept {
  try {
    // Unusable settings make no device available, as the runtime's own do.
    if (!g_initialized.load(std::memory_order_acquire)) validate_environment();
    return static_cast<c10::DeviceIndex>(hal::driver().device_count());
  } catch (...) {
    return 0;
  }
}

void check_device(std::int64_t index) {
  // The count alone: checking an index (torch.manual_seed seeds every generator) leaves the
  // backend uninitialised, so torch.mlu.is_initialized() means what CUDA's does.
  const int count = device_count();
  TORCH_CHECK(count > 0, "Invalid MLU device index ", index,
              ": no MLU device is visible (see MLU_DEVICE_COUNT and MLU_VISIBLE_DEVICES)");
  TORCH_CHECK(index >= 0 && index < count, "Invalid MLU device index ", index, ": there ",
              count == 1 ? "is " : "are ", count, " MLU device", count == 1 ? "" : "s",
              " (valid indices are 0 to ", count - 1, ")");
}

bool host_accessible(c10::DeviceIndex device) {
  std::atomic<std::int8_t>& known = g_host_accessible.at(device);
  if (known.load(std::memory_order_relaxed) == 0) {
    const bool accessible = hal_call([&] { return driver().properties(device).host_accessible; });
    known.store(accessible ? 1 : 2, std::memory_order_relaxed);
  }
  return known.load(std::memory_order_relaxed) == 1;
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
