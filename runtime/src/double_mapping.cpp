#include "double_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mlu/hal.h"

namespace mlu::hal::detail {
KernelAddressMap kernel_addresses;
}  // namespace mlu::hal::detail

namespace mlu::soft {
namespace {

int new_file(std::size_t bytes) noexcept {
  const int fd = memfd_create("mlu-device-memory", MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

DoubleMapping::DoubleMapping(std::size_t bytes) : bytes_(bytes) {
  const int fd = new_file(bytes);
  if (fd < 0 || !map(fd)) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) close(fd);
    throw hal::Error(hal::ErrorKind::Unavailable,
                     "MLU_STRICT_DEVICE_MEMORY=1: cannot map " + std::to_string(bytes >> 20) +
                         " MiB of device memory twice (" + reason + ")");
  }
  fd_ = fd;
  auto& map = hal::detail::kernel_addresses;
  map.begin = reinterpret_cast<std::uintptr_t>(device_);
  map.size = bytes_;
  map.offset = accessible_ - device_;
}

DoubleMapping::~DoubleMapping() {
  auto& map = hal::detail::kernel_addresses;
  if (map.begin == reinterpret_cast<std::uintptr_t>(device_)) map = {};
  munmap(device_, bytes_);
  munmap(accessible_, bytes_);
  close(fd_);
}

bool DoubleMapping::map(int fd) noexcept {
  // MAP_FIXED once mapped: renew() replaces the pages at the same addresses.
  const int fixed = device_ != nullptr ? MAP_FIXED : 0;
  void* device = mmap(device_, bytes_, PROT_NONE, MAP_SHARED | MAP_NORESERVE | fixed, fd, 0);
  if (device == MAP_FAILED) return false;
  void* accessible =
      mmap(accessible_, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | fixed, fd, 0);
  if (accessible == MAP_FAILED) {
    if (fixed == 0) munmap(device, bytes_);
    return false;
  }
  device_ = static_cast<char*>(device);
  accessible_ = static_cast<char*>(accessible);
  return true;
}

void DoubleMapping::release(std::size_t offset, std::size_t bytes) noexcept {
  // Advice only: a host that cannot punch holes keeps the pages until exit.
  fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
            static_cast<off_t>(bytes));
}

bool DoubleMapping::renew() noexcept {
  const int fd = new_file(bytes_);
  if (fd < 0) return false;
  if (!map(fd)) {
    close(fd);
    return false;
  }
  close(fd_);
  fd_ = fd;
  return true;
}

}  // namespace mlu::soft
