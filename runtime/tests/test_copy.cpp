// Pinned host memory and asynchronous copies: asynchronous with pinned memory, synchronous with
// pageable memory on a host side.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::DeviceBuffer;
using test_support::drv;
using test_support::Gate;
using test_support::kind_of;
using test_support::PinnedBuffer;
using test_support::ScopedQueue;

constexpr std::size_t kBytes = 4096;

void fill_pattern(unsigned char* p, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
}

bool all_zero(const unsigned char* p, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

TEST(PinnedMemory, InteriorPointersArePinned) {
  PinnedBuffer buffer(100);
  unsigned char* p = buffer.get();
  EXPECT_TRUE(drv().is_pinned(p));
  EXPECT_TRUE(drv().is_pinned(p + 1));
  EXPECT_TRUE(drv().is_pinned(p + 99));
}

TEST(PinnedMemory, OtherMemoryIsNotPinned) {
  int local = 0;
  std::vector<unsigned char> heap(64);
  DeviceBuffer device(0, 64);
  EXPECT_FALSE(drv().is_pinned(&local));
  EXPECT_FALSE(drv().is_pinned(heap.data()));
  EXPECT_FALSE(drv().is_pinned(device.get()));
  EXPECT_FALSE(drv().is_pinned(nullptr));
}

TEST(PinnedMemory, FreedMemoryIsNoLongerPinned) {
  void* p = drv().allocate_host(64);
  drv().free_host(p);
  EXPECT_FALSE(drv().is_pinned(p));
}

TEST(PinnedMemory, AllocationEdgeCases) {
  EXPECT_EQ(drv().allocate_host(0), nullptr);
  drv().free_host(nullptr);
  // Rounding such a request up to a page wraps around to a small size.
  EXPECT_EQ(kind_of([] { drv().allocate_host(SIZE_MAX); }), hal::ErrorKind::OutOfMemory);

  PinnedBuffer buffer(64);
  std::vector<unsigned char> heap(64);
  EXPECT_EQ(kind_of([&] { drv().free_host(heap.data()); }), hal::ErrorKind::InvalidValue);
  EXPECT_EQ(kind_of([&] { drv().free_host(buffer.get() + 1); }), hal::ErrorKind::InvalidValue);
  EXPECT_TRUE(drv().is_pinned(buffer.get()));
}

// With the queue held, a copy between pinned and device memory must return at once and must not
// have happened yet; once released and synchronised, dst holds src. The test reads and writes
// device memory as kernels do (hal::kernel_address: MLU_STRICT_DEVICE_MEMORY=1 protects it).
void expect_asynchronous_copy(hal::Queue* q, unsigned char* dst, unsigned char* src,
                              hal::CopyKind kind) {
  unsigned char *d = hal::kernel_address(dst), *s = hal::kernel_address(src);
  fill_pattern(s, kBytes);
  std::memset(d, 0, kBytes);
  Gate gate;
  drv().launch(q, "hold", gate.hold());
  drv().copy_async(q, dst, src, kBytes, kind);

  EXPECT_FALSE(drv().query(q));
  EXPECT_TRUE(all_zero(d, kBytes)) << "copied before the queue reached the copy";
  gate.open();
  drv().synchronize(q);
  EXPECT_EQ(std::memcmp(d, s, kBytes), 0);
}

TEST(AsyncCopy, HostToDeviceFromPinnedIsAsynchronous) {
  ScopedQueue q(0);
  PinnedBuffer host(kBytes);
  DeviceBuffer device(0, kBytes);
  expect_asynchronous_copy(q.get(), device.get(), host.get(), hal::CopyKind::HostToDevice);
}

TEST(AsyncCopy, HostToDeviceFromInsidePinnedBlockIsAsynchronous) {
  ScopedQueue q(0);
  PinnedBuffer host(kBytes + 64);
  DeviceBuffer device(0, kBytes);
  expect_asynchronous_copy(q.get(), device.get(), host.get() + 64, hal::CopyKind::HostToDevice);
}

TEST(AsyncCopy, DeviceToPinnedHostIsAsynchronous) {
  ScopedQueue q(0);
  DeviceBuffer device(0, kBytes);
  PinnedBuffer host(kBytes);
  expect_asynchronous_copy(q.get(), host.get(), device.get(), hal::CopyKind::DeviceToHost);
}

TEST(AsyncCopy, DeviceToDeviceIsAsynchronous) {
  ScopedQueue q(0);
  DeviceBuffer src(0, kBytes), dst(0, kBytes);
  expect_asynchronous_copy(q.get(), dst.get(), src.get(), hal::CopyKind::DeviceToDevice);
}

TEST(AsyncCopy, BetweenDevicesIsAsynchronous) {
  MLU_REQUIRE_TWO_DEVICES();
  ScopedQueue q(0);
  DeviceBuffer src(0, kBytes), dst(1, kBytes);
  expect_asynchronous_copy(q.get(), dst.get(), src.get(), hal::CopyKind::DeviceToDevice);
}

TEST(AsyncCopy, PinnedHostToPinnedHostIsAsynchronous) {
  ScopedQueue q(0);
  PinnedBuffer src(kBytes), dst(kBytes);
  expect_asynchronous_copy(q.get(), dst.get(), src.get(), hal::CopyKind::HostToHost);
}

// A copy touching pageable host memory returns only when done, after the work before it.
void expect_synchronous_copy(hal::Queue* q, unsigned char* dst, unsigned char* src,
                             hal::CopyKind kind) {
  unsigned char *d = hal::kernel_address(dst), *s = hal::kernel_address(src);
  fill_pattern(s, kBytes);
  drv().launch(q, "scribble", [d] { std::memset(d, 0xAB, kBytes); });
  drv().copy_async(q, dst, src, kBytes, kind);
  EXPECT_TRUE(drv().query(q));
  EXPECT_EQ(std::memcmp(d, s, kBytes), 0);
}

TEST(AsyncCopy, HostToDeviceFromPageableIsSynchronous) {
  ScopedQueue q(0);
  std::vector<unsigned char> host(kBytes);
  DeviceBuffer device(0, kBytes);
  expect_synchronous_copy(q.get(), device.get(), host.data(), hal::CopyKind::HostToDevice);
}

TEST(AsyncCopy, DeviceToPageableHostIsSynchronous) {
  ScopedQueue q(0);
  DeviceBuffer device(0, kBytes);
  std::vector<unsigned char> host(kBytes);
  expect_synchronous_copy(q.get(), host.data(), device.get(), hal::CopyKind::DeviceToHost);
}

TEST(AsyncCopy, HostToHostWithOnePageableSideIsSynchronous) {
  ScopedQueue q(0);
  PinnedBuffer pinned(kBytes);
  std::vector<unsigned char> pageable(kBytes);
  expect_synchronous_copy(q.get(), pageable.data(), pinned.get(), hal::CopyKind::HostToHost);
  expect_synchronous_copy(q.get(), pinned.get(), pageable.data(), hal::CopyKind::HostToHost);
}

TEST(AsyncCopy, ZeroBytesIsANoOp) {
  ScopedQueue q(0);
  drv().copy_async(q.get(), nullptr, nullptr, 0, hal::CopyKind::HostToDevice);
  EXPECT_TRUE(drv().query(q.get()));
}

TEST(AsyncCopy, NullPointerIsInvalidValue) {
  ScopedQueue q(0);
  DeviceBuffer device(0, 64);
  EXPECT_EQ(kind_of([&] {
              drv().copy_async(q.get(), nullptr, device.get(), 64, hal::CopyKind::DeviceToDevice);
            }),
            hal::ErrorKind::InvalidValue);
  EXPECT_EQ(kind_of([&] {
              drv().copy_async(q.get(), device.get(), nullptr, 64, hal::CopyKind::DeviceToDevice);
            }),
            hal::ErrorKind::InvalidValue);
}

}  // namespace
}  // namespace mlu
