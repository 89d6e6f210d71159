// The boxed CPU fallback: operators without a native mlu kernel run PyTorch's CPU kernels on
// zero-copy host views of device memory, after the current stream has finished with it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace torch_mlu {

struct FallbackRecord {
  std::uint64_t calls = 0;
  double seconds = 0;
  std::uint64_t bytes = 0;  // tensor bytes read and written
};

std::map<std::string, FallbackRecord> fallback_stats();
void reset_fallback_stats();
// Defaults to ENABLE_FALLBACK_TO_CPU (anything but "0" enables it).
bool fallback_enabled();
void set_fallback_enabled(bool enabled);

}  // namespace torch_mlu
