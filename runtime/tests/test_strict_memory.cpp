// Strict device memory: device addresses from a double mapping, reachable by kernels only.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "device_state.h"
#include "double_mapping.h"
#include "test_support.h"

namespace mlu {
namespace {

using test_support::kind_of;

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(StrictDeviceMemory, DeviceAddressesAreProtectedAndKernelsReachTheSamePages) {
  soft::DoubleMapping mapping(8 * kMiB);
  soft::DeviceState dev(0, 0, 8 * kMiB, &mapping, 0);
  EXPECT_FALSE(dev.properties().host_accessible);
  auto* p = static_cast<float*>(dev.allocate(1000 * sizeof(float)));
  ASSERT_TRUE(hal::is_protected_device_address(p));
  float* kernel_view = hal::kernel_address(p);
  EXPECT_NE(kernel_view, p);
  EXPECT_FALSE(hal::is_protected_device_address(kernel_view));
  kernel_view[999] = 2.5f;
  EXPECT_EQ(hal::kernel_address(p + 999), kernel_view + 999);
  EXPECT_EQ(kernel_view[999], 2.5f);
  EXPECT_DEATH(*static_cast<volatile float*>(p) = 0, "");  // the host touching a device address
  // Host addresses pass through unchanged.
  float on_host = 1.0f;
  EXPECT_EQ(hal::kernel_address(&on_host), &on_host);
  dev.free(p);
}

TEST(StrictDeviceMemory, FreedPagesReadZeroAndRangesCoalesce) {
  soft::DoubleMapping mapping(8 * kMiB);
  soft::DeviceState dev(0, 0, 8 * kMiB, &mapping, 0);
  auto* a = static_cast<unsigned char*>(dev.allocate(2 * kMiB));
  void* b = dev.allocate(2 * kMiB);
  void* c = dev.allocate(100);
  EXPECT_EQ(dev.memory_info().free, 4 * kMiB - 4096);  // whole pages
  std::memset(hal::kernel_address(b), 0xAB, 2 * kMiB);
  dev.free(b);
  dev.free(a);
  // a's and b's ranges coalesced: 4 MiB fit where a was, in pages the host took back (zeros).
  auto* whole = static_cast<unsigned char*>(dev.allocate(4 * kMiB));
  EXPECT_EQ(whole, a);
  EXPECT_EQ(hal::kernel_address(whole)[3 * kMiB], 0);
  dev.free(whole);
  dev.free(c);
  EXPECT_EQ(dev.memory_info().free, 8 * kMiB);
  EXPECT_FALSE(dev.has_allocations());
}

TEST(StrictDeviceMemory, DevicesHaveSeparatePartsOfOneMapping) {
  soft::DoubleMapping mapping(4 * kMiB);
  soft::DeviceState first(0, 0, 2 * kMiB, &mapping, 0);
  soft::DeviceState second(1, 1, 2 * kMiB, &mapping, 2 * kMiB);
  auto* a = static_cast<char*>(first.allocate(2 * kMiB));
  auto* b = static_cast<char*>(second.allocate(2 * kMiB));
  EXPECT_EQ(b - a, static_cast<std::ptrdiff_t>(2 * kMiB));
  EXPECT_EQ(kind_of([&] { first.allocate(1); }), hal::ErrorKind::OutOfMemory);
  first.free(a);
  second.free(b);
}

TEST(StrictDeviceMemory, RenewGivesFreshPagesAtTheSameAddresses) {
  soft::DoubleMapping mapping(2 * kMiB);
  soft::DeviceState dev(0, 0, 2 * kMiB, &mapping, 0);
  auto* p = static_cast<int*>(dev.allocate(4096));
  *hal::kernel_address(p) = 42;
  ASSERT_TRUE(mapping.renew());
  EXPECT_TRUE(hal::is_protected_device_address(p));
  EXPECT_EQ(*hal::kernel_address(p), 0);
  dev.free(p);
}

}  // namespace
}  // namespace mlu
