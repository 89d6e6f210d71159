// Settings of the software MLU, read once from the environment.
#pragma once

#include <cstddef>
#include <vector>

namespace mlu::soft {

struct Config {
  std::vector<int> visible;       // physical device ids exposed, in order
  std::size_t memory_per_device;  // capacity in bytes
};

// MLU_DEVICE_COUNT (default 2) physical devices, filtered and ordered by MLU_VISIBLE_DEVICES;
// MLU_DEVICE_MEMORY per device (bytes, or with a K/M/G suffix; default 8G).
Config config_from_environment();

// Parses "8G", "512M", "1024" (binary units); throws std::invalid_argument on anything else.
std::size_t parse_size(const char* text);

}  // namespace mlu::soft
