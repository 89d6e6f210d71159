#include "config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "mlu/hal.h"

namespace mlu::soft {

namespace {

constexpr int kDefaultDeviceCount = 2;
constexpr std::size_t kDefaultMemory = std::size_t{8} << 30;

// A whole number from 0 to max, nothing else (std::stoi alone would accept "3abc" and " 3").
int parse_bounded(const char* text, int max) {
  if (!std::isdigit(static_cast<unsigned char>(text[0]))) throw std::invalid_argument(text);
  std::size_t used = 0;
  const long value = std::stol(text, &used);
  if (text[used] != '\0' || value > max) throw std::invalid_argument(text);
  return static_cast<int>(value);
}

// Like CUDA_VISIBLE_DEVICES: the list stops at the first entry that is not a valid device. A repeat
// stops it too: one physical device must not appear twice, each with its own memory.
std::vector<int> parse_visible(const char* text, int physical) {
  std::vector<int> ids;
  std::string entry;
  std::string list = std::string(text) + ",";
  for (char c : list) {
    if (c != ',') {
      if (!std::isspace(static_cast<unsigned char>(c))) entry += c;
      continue;
    }
    char* end = nullptr;
    long id = std::strtol(entry.c_str(), &end, 10);
    if (entry.empty() || *end != '\0' || id < 0 || id >= physical) break;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) break;
    ids.push_back(static_cast<int>(id));
    entry.clear();
  }
  return ids;
}

}  // namespace

std::size_t parse_size(const char* text) {
  std::string s(text);
  // stoull skips blanks and accepts a sign, turning "-1" into the largest value.
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) throw std::invalid_argument(s);
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(s, &used);
  } catch (const std::out_of_range&) {
    throw std::invalid_argument(s);
  }
  std::string unit = s.substr(used);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() == 2 && unit.back() == 'i') unit.pop_back();  // "Gi", but not a bare "i"
  int shift = 0;
  if (unit == "K" || unit == "k")
    shift = 10;
  else if (unit == "M" || unit == "m")
    shift = 20;
  else if (unit == "G" || unit == "g")
    shift = 30;
  else if (!unit.empty())
    throw std::invalid_argument(text);
  if (value > (std::numeric_limits<std::size_t>::max() >> shift)) throw std::invalid_argument(text);
  return static_cast<std::size_t>(value) << shift;
}

Config config_from_environment() {
  int physical = kDefaultDeviceCount;
  if (const char* count = std::getenv("MLU_DEVICE_COUNT")) {
    try {
      physical = parse_bounded(count, hal::kMaxDevices);
    } catch (const std::exception&) {
      throw std::invalid_argument("MLU_DEVICE_COUNT must be an integer from 0 to " +
                                  std::to_string(hal::kMaxDevices) + ", got '" + count + "'");
    }
  }
  Config config;
  if (const char* visible = std::getenv("MLU_VISIBLE_DEVICES")) {
    config.visible = parse_visible(visible, physical);
  } else {
    for (int i = 0; i < physical; ++i) config.visible.push_back(i);
  }
  config.memory_per_device = kDefaultMemory;
  if (const char* memory = std::getenv("MLU_DEVICE_MEMORY")) {
    try {
      config.memory_per_device = parse_size(memory);
    } catch (const std::exception&) {
      throw std::invalid_argument(
          std::string("MLU_DEVICE_MEMORY must be a size such as 8G or 512M, got '") + memory + "'");
    }
  }
  if (const char* spin = std::getenv("MLU_QUEUE_SPIN_US")) {
    try {
      config.queue_spin = std::chrono::microseconds(parse_bounded(spin, 1000000));
    } catch (const std::exception&) {
      throw std::invalid_argument(
          std::string("MLU_QUEUE_SPIN_US must be an integer from 0 to 1000000, got '") + spin +
          "'");
    }
  }
  if (const char* strict = std::getenv("MLU_STRICT_DEVICE_MEMORY")) {
    const std::string value = strict;
    if (value != "0" && value != "1") {
      throw std::invalid_argument("MLU_STRICT_DEVICE_MEMORY must be 0 or 1, got '" + value + "'");
    }
    config.strict_device_memory = value == "1";
  }
  return config;
}

}  // namespace mlu::soft
