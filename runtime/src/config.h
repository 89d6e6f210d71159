// Settings of the software MLU, read once from the environment.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace mlu::soft {

struct Config {
  std::vector<int> visible;                  // physical device ids exposed, in order
  std::size_t memory_per_device;             // capacity in bytes
  std::chrono::microseconds queue_spin{50};  // how long an idle queue polls before sleeping
  bool strict_device_memory = false;         // device memory the host cannot touch
};

// MLU_DEVICE_COUNT (default 2) physical devices, filtered and ordered by MLU_VISIBLE_DEVICES;
// MLU_DEVICE_MEMORY per device (bytes, or with a K/M/G suffix; default 8G); MLU_QUEUE_SPIN_US
// (0 to 1000000, default 50); MLU_STRICT_DEVICE_MEMORY (0 or 1, default 0). Throws
// std::invalid_argument naming a variable that is not valid.
Config config_from_environment();

// Parses "8G", "512M", "1024" (binary units); throws std::invalid_argument on anything else.
std::size_t parse_size(const char* text);

}  // namespace mlu::soft
