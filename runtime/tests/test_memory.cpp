// Device memory accounting. Exact boundaries are tested on a small DeviceState, since every
// successful allocation of the driver's 8 GiB devices is a real host allocation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "device_state.h"
#include "test_support.h"

namespace mlu {
namespace {

using test_support::drv;
using test_support::kind_of;
using ::testing::HasSubstr;

constexpr std::size_t kAlignment = 512;
constexpr std::size_t kGiB = std::size_t{1} << 30;

TEST(DeviceState, RoundsEachBlockUpToTheAlignment) {
  soft::DeviceState dev(0, 0, 4096);
  void* a = dev.allocate(1);
  EXPECT_EQ(dev.memory_info().free, 4096 - kAlignment);
  void* b = dev.allocate(kAlignment);
  EXPECT_EQ(dev.memory_info().free, 4096 - 2 * kAlignment);
  void* c = dev.allocate(kAlignment + 1);
  EXPECT_EQ(dev.memory_info().free, 4096 - 4 * kAlignment);
  for (void* p : {a, b, c}) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kAlignment, 0u);

  dev.free(c);
  EXPECT_EQ(dev.memory_info().free, 4096 - 2 * kAlignment);
  dev.free(a);
  dev.free(b);
  EXPECT_EQ(dev.memory_info().free, 4096u);
  EXPECT_EQ(dev.memory_info().total, 4096u);
}

TEST(DeviceState, FillsToCapacityExactlyThenRunsOutAndRecovers) {
  soft::DeviceState dev(0, 0, 4096);
  void* first = dev.allocate(1024);
  void* rest = dev.allocate(3072);
  EXPECT_EQ(dev.memory_info().free, 0u);
  EXPECT_EQ(kind_of([&] { dev.allocate(1); }), hal::ErrorKind::OutOfMemory);

  dev.free(first);
  EXPECT_EQ(kind_of([&] { dev.allocate(1025); }), hal::ErrorKind::OutOfMemory);
  void* again = dev.allocate(1024);
  EXPECT_EQ(dev.memory_info().free, 0u);
  dev.free(again);
  dev.free(rest);
  EXPECT_EQ(dev.memory_info().free, 4096u);
}

TEST(DeviceState, OutOfMemoryMessageNamesRequestFreeAndTotal) {
  soft::DeviceState dev(3, 0, 4096);
  void* held = dev.allocate(1024);
  try {
    dev.allocate(8192);
    ADD_FAILURE() << "allocation beyond capacity succeeded";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::OutOfMemory);
    EXPECT_THAT(e.what(), HasSubstr("mlu:3"));
    EXPECT_THAT(e.what(), HasSubstr("tried to allocate 8.00 KiB"));
    EXPECT_THAT(e.what(), HasSubstr("3.00 KiB free of 4.00 KiB total"));
  }
  dev.free(held);
}

TEST(DeviceState, RequestsNearSizeMaxRunOutOfMemory) {
  // Rounding such a request up to the alignment wraps around to a small size.
  soft::DeviceState dev(0, 0, 4096);
  EXPECT_EQ(kind_of([&] { dev.allocate(SIZE_MAX); }), hal::ErrorKind::OutOfMemory);
  EXPECT_EQ(kind_of([&] { dev.allocate(SIZE_MAX - kAlignment + 2); }), hal::ErrorKind::OutOfMemory);
  EXPECT_EQ(dev.memory_info().free, 4096u);
}

TEST(DeviceState, ZeroBytesAndNullAreNoOps) {
  soft::DeviceState dev(0, 0, 4096);
  EXPECT_EQ(dev.allocate(0), nullptr);
  dev.free(nullptr);
  EXPECT_EQ(dev.memory_info().free, 4096u);
}

TEST(DeviceState, FreeOfForeignPointerIsInvalidValue) {
  soft::DeviceState dev(0, 0, 4096);
  unsigned char* p = static_cast<unsigned char*>(dev.allocate(64));
  int local = 0;
  EXPECT_EQ(kind_of([&] { dev.free(&local); }), hal::ErrorKind::InvalidValue);
  EXPECT_EQ(kind_of([&] { dev.free(p + 1); }), hal::ErrorKind::InvalidValue);
  EXPECT_EQ(dev.memory_info().free, 4096 - kAlignment);
  dev.free(p);
}

TEST(DeviceState, PropertiesNameThePhysicalDevice) {
  soft::DeviceState dev(0, 3, 4096);
  const hal::DeviceProperties props = dev.properties();
  EXPECT_THAT(props.name, HasSubstr("device 3"));
  EXPECT_EQ(props.total_memory, 4096u);
  EXPECT_GE(props.compute_units, 1);
  EXPECT_TRUE(props.host_accessible);
}

TEST(DriverMemory, TotalIsTheCapacityInProperties) {
  ASSERT_GT(drv().device_count(), 0);
  for (int d = 0; d < drv().device_count(); ++d) {
    const hal::MemoryInfo info = drv().memory_info(d);
    EXPECT_EQ(info.total, drv().properties(d).total_memory);
    EXPECT_LE(info.free, info.total);
  }
}

// Blocks are rounded up to 512 bytes, or to whole pages where device memory is protected from the
// host (MLU_STRICT_DEVICE_MEMORY=1, which returns freed pages to the host).
TEST(DriverMemory, FreeDropsByTheRoundedSizeAndComesBack) {
  const std::size_t unit = drv().properties(0).host_accessible ? kAlignment : 4096;
  const std::size_t first = (1000 + unit - 1) / unit * unit;
  const std::size_t before = drv().memory_info(0).free;
  void* p = drv().allocate(0, 1000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(drv().memory_info(0).free, before - first);
  void* q = drv().allocate(0, 1);
  EXPECT_EQ(drv().memory_info(0).free, before - first - unit);
  drv().free(0, p);
  drv().free(0, q);
  EXPECT_EQ(drv().memory_info(0).free, before);
}

TEST(DriverMemory, TheHostReachesDeviceMemoryUnlessItIsProtected) {
  test_support::DeviceBuffer buffer(0, 256);
  const bool accessible = drv().properties(0).host_accessible;
  EXPECT_EQ(hal::is_protected_device_address(buffer.get()), !accessible);
  // Where it is protected, kernels reach it through hal::kernel_address.
  unsigned char* p = accessible ? buffer.get() : hal::kernel_address(buffer.get());
  for (int i = 0; i < 256; ++i) p[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(p[255], 255);
}

TEST(DriverMemory, OutOfMemoryBeyondCapacityThenUsable) {
  const hal::MemoryInfo before = drv().memory_info(0);
  ASSERT_EQ(before.total % kGiB, 0u) << "this test expects a capacity in whole GiB";
  const std::size_t request = before.total + kGiB;
  try {
    drv().allocate(0, request);
    ADD_FAILURE() << "allocation beyond capacity succeeded";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::OutOfMemory);
    EXPECT_THAT(e.what(), HasSubstr("out of memory on mlu:0"));
    EXPECT_THAT(e.what(),
                HasSubstr("tried to allocate " + std::to_string(request / kGiB) + ".00 GiB"));
  }
  EXPECT_EQ(drv().memory_info(0).free, before.free);

  void* p = drv().allocate(0, 4096);
  EXPECT_EQ(drv().memory_info(0).free, before.free - 4096);
  drv().free(0, p);
  EXPECT_EQ(drv().memory_info(0).free, before.free);
}

TEST(DriverMemory, OneByteMoreThanCapacityRunsOutOfMemory) {
  const std::size_t total = drv().memory_info(0).total;
  EXPECT_EQ(kind_of([&] { drv().allocate(0, total + 1); }), hal::ErrorKind::OutOfMemory);
  EXPECT_EQ(kind_of([&] { drv().allocate(0, SIZE_MAX); }), hal::ErrorKind::OutOfMemory);
}

TEST(DriverMemory, DevicesAreAccountedSeparately) {
  MLU_REQUIRE_TWO_DEVICES();
  const std::size_t free0 = drv().memory_info(0).free;
  const std::size_t free1 = drv().memory_info(1).free;
  void* p = drv().allocate(1, 4096);
  EXPECT_EQ(drv().memory_info(0).free, free0);
  EXPECT_EQ(drv().memory_info(1).free, free1 - 4096);

  // Memory goes back to the device it came from, and only to that one.
  EXPECT_EQ(kind_of([&] { drv().free(0, p); }), hal::ErrorKind::InvalidValue);
  drv().free(1, p);
  EXPECT_EQ(drv().memory_info(1).free, free1);
}

TEST(DriverMemory, ZeroBytesAndNullAreNoOps) {
  const std::size_t before = drv().memory_info(0).free;
  EXPECT_EQ(drv().allocate(0, 0), nullptr);
  drv().free(0, nullptr);
  EXPECT_EQ(drv().memory_info(0).free, before);
}

TEST(DriverMemory, InvalidDeviceIndex) {
  const int count = drv().device_count();
  for (int bad : {-1, count, count + 7}) {
    EXPECT_EQ(kind_of([&] { drv().allocate(bad, 16); }), hal::ErrorKind::InvalidDevice) << bad;
    EXPECT_EQ(kind_of([&] { drv().free(bad, nullptr); }), hal::ErrorKind::InvalidDevice) << bad;
    EXPECT_EQ(kind_of([&] { drv().memory_info(bad); }), hal::ErrorKind::InvalidDevice) << bad;
    EXPECT_EQ(kind_of([&] { drv().properties(bad); }), hal::ErrorKind::InvalidDevice) << bad;
  }
}

}  // namespace
}  // namespace mlu
