// Configuration of the software MLU from the environment. These tests call
// config_from_environment() directly: the driver singleton reads the environment only once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.h"

namespace mlu::soft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::size_t kKiB = std::size_t{1} << 10;
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kGiB = std::size_t{1} << 30;

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_EQ(parse_size("7B"), 7u);
}

TEST(ParseSize, BinaryUnitsInEitherCase) {
  EXPECT_EQ(parse_size("4K"), 4 * kKiB);
  EXPECT_EQ(parse_size("4k"), 4 * kKiB);
  EXPECT_EQ(parse_size("512M"), 512 * kMiB);
  EXPECT_EQ(parse_size("2mb"), 2 * kMiB);
  EXPECT_EQ(parse_size("8G"), 8 * kGiB);
  EXPECT_EQ(parse_size("8GB"), 8 * kGiB);
  EXPECT_EQ(parse_size("8Gi"), 8 * kGiB);
  EXPECT_EQ(parse_size("8GiB"), 8 * kGiB);
}

TEST(ParseSize, RejectsMalformedText) {
  for (const char* text :
       {"", "G", "abc", "8X", "8T", "8 G", "8GG", "8i", "8iB", "8.5G", "0x10", "-1", "+1", " 8G"}) {
    EXPECT_THROW(parse_size(text), std::invalid_argument) << "'" << text << "'";
  }
}

TEST(ParseSize, RejectsValuesThatDoNotFit) {
  EXPECT_EQ(parse_size("18446744073709551615"), SIZE_MAX);
  EXPECT_EQ(parse_size("17179869183G"), (SIZE_MAX >> 30) << 30);
  EXPECT_THROW(parse_size("18446744073709551616"), std::invalid_argument);  // 2^64
  EXPECT_THROW(parse_size("17179869184G"), std::invalid_argument);          // 2^34 GiB = 2^64
}

// Clears the variables the configuration reads and restores them afterwards, so neither the
// host's settings nor these tests leak into each other or into the driver singleton.
class ConfigFromEnvironment : public ::testing::Test {
 protected:
  static constexpr const char* kVariables[] = {"MLU_DEVICE_COUNT", "MLU_VISIBLE_DEVICES",
                                               "MLU_DEVICE_MEMORY", "MLU_QUEUE_SPIN_US",
                                               "MLU_STRICT_DEVICE_MEMORY"};

  void SetUp() override {
    for (const char* name : kVariables) {
      const char* value = std::getenv(name);
      saved_.push_back(value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
  }

  void TearDown() override {
    for (std::size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i]) {
        setenv(kVariables[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kVariables[i]);
      }
    }
  }

  static void set(const char* name, const char* value) { setenv(name, value, 1); }

  // Each value makes config_from_environment() throw, naming the variable and the value.
  static void expect_rejected(const char* variable, std::initializer_list<const char*> values) {
    for (const char* text : values) {
      set(variable, text);
      try {
        config_from_environment();
        ADD_FAILURE() << "accepted " << variable << "='" << text << "'";
      } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr(variable));
        EXPECT_THAT(e.what(), HasSubstr(std::string("'") + text + "'"));
      }
    }
  }

  static std::vector<int> visible_with(const char* count, const char* visible) {
    set("MLU_DEVICE_COUNT", count);
    set("MLU_VISIBLE_DEVICES", visible);
    return config_from_environment().visible;
  }

 private:
  std::vector<std::optional<std::string>> saved_;
};

TEST_F(ConfigFromEnvironment, DefaultsToTwoDevicesOfEightGiB) {
  const Config config = config_from_environment();
  EXPECT_THAT(config.visible, ElementsAre(0, 1));
  EXPECT_EQ(config.memory_per_device, 8 * kGiB);
}

TEST_F(ConfigFromEnvironment, DeviceCount) {
  set("MLU_DEVICE_COUNT", "4");
  EXPECT_THAT(config_from_environment().visible, ElementsAre(0, 1, 2, 3));
  set("MLU_DEVICE_COUNT", "0");
  EXPECT_THAT(config_from_environment().visible, IsEmpty());
}

TEST_F(ConfigFromEnvironment, InvalidDeviceCountNamesTheVariable) {
  // 200 would not fit PyTorch's 8-bit device index (it reported -56 devices).
  expect_rejected("MLU_DEVICE_COUNT",
                  {"", "abc", "-1", "2x", " 2", "+2", "65", "200", "99999999999"});
}

TEST_F(ConfigFromEnvironment, DeviceCountUpToTheMaximum) {
  set("MLU_DEVICE_COUNT", "64");
  EXPECT_EQ(config_from_environment().visible.size(), 64u);
}

TEST_F(ConfigFromEnvironment, QueueSpin) {
  EXPECT_EQ(config_from_environment().queue_spin.count(), 50);
  set("MLU_QUEUE_SPIN_US", "0");
  EXPECT_EQ(config_from_environment().queue_spin.count(), 0);
  expect_rejected("MLU_QUEUE_SPIN_US", {"", "fast", "-5", "10us", "1000001"});
}

TEST_F(ConfigFromEnvironment, StrictDeviceMemory) {
  EXPECT_FALSE(config_from_environment().strict_device_memory);
  set("MLU_STRICT_DEVICE_MEMORY", "1");
  EXPECT_TRUE(config_from_environment().strict_device_memory);
  set("MLU_STRICT_DEVICE_MEMORY", "0");
  EXPECT_FALSE(config_from_environment().strict_device_memory);
  expect_rejected("MLU_STRICT_DEVICE_MEMORY", {"", "yes", "2", "true"});
}

TEST_F(ConfigFromEnvironment, VisibleDevicesSelectAndReorder) {
  EXPECT_THAT(visible_with("4", "2"), ElementsAre(2));
  EXPECT_THAT(visible_with("4", "3,1"), ElementsAre(3, 1));
  EXPECT_THAT(visible_with("2", "1,0"), ElementsAre(1, 0));
  EXPECT_THAT(visible_with("2", " 1 , 0 "), ElementsAre(1, 0));
}

TEST_F(ConfigFromEnvironment, VisibleDevicesStopAtTheFirstInvalidEntry) {
  EXPECT_THAT(visible_with("2", "0,2,1"), ElementsAre(0));  // out of range
  EXPECT_THAT(visible_with("2", "1,x,0"), ElementsAre(1));  // not a number
  EXPECT_THAT(visible_with("2", "1,-1,0"), ElementsAre(1));
  EXPECT_THAT(visible_with("2", "1,,0"), ElementsAre(1));
  EXPECT_THAT(visible_with("2", "0,1x"), ElementsAre(0));
  EXPECT_THAT(visible_with("3", "1,0,1,2"), ElementsAre(1, 0));  // a repeat
}

TEST_F(ConfigFromEnvironment, VisibleDevicesCanHideEverything) {
  EXPECT_THAT(visible_with("2", ""), IsEmpty());
  EXPECT_THAT(visible_with("2", "2"), IsEmpty());
  EXPECT_THAT(visible_with("0", "0"), IsEmpty());
}

TEST_F(ConfigFromEnvironment, DeviceMemory) {
  set("MLU_DEVICE_MEMORY", "512M");
  EXPECT_EQ(config_from_environment().memory_per_device, 512 * kMiB);
  set("MLU_DEVICE_MEMORY", "1048576");
  EXPECT_EQ(config_from_environment().memory_per_device, kMiB);
}

TEST_F(ConfigFromEnvironment, InvalidDeviceMemoryNamesTheVariable) {
  for (const char* text : {"lots", "-1", "8 G"}) {
    set("MLU_DEVICE_MEMORY", text);
    try {
      config_from_environment();
      ADD_FAILURE() << "accepted MLU_DEVICE_MEMORY='" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("MLU_DEVICE_MEMORY"));
      EXPECT_THAT(e.what(), HasSubstr(std::string("'") + text + "'"));
    }
  }
}

}  // namespace
}  // namespace mlu::soft
