// Strict device memory (MLU_STRICT_DEVICE_MEMORY=1): the devices' memory is one shared-memory file
// mapped twice. Device addresses point into a mapping the host cannot touch, so a stray host
// access faults as it would on hardware; kernels and copies reach the same pages through the
// second, read-write mapping (hal::kernel_address).
#pragma once

#include <cstddef>

namespace mlu::soft {

class DoubleMapping {
 public:
  // Maps `bytes` (virtual only: pages are backed once written) twice and publishes the
  // translation through hal::kernel_address. Throws hal::Error(Unavailable) when the host refuses.
  explicit DoubleMapping(std::size_t bytes);
  ~DoubleMapping();  // the driver never destroys its mapping: kernels may run until exit
  DoubleMapping(const DoubleMapping&) = delete;
  DoubleMapping& operator=(const DoubleMapping&) = delete;

  char* device_base() const { return device_; }
  // Returns the pages of [offset, offset + bytes) to the host; both mappings read zeros there.
  void release(std::size_t offset, std::size_t bytes) noexcept;
  // In a forked child: new pages at the same addresses, so that parent and child never share
  // device memory. Returns false if the host refused (the mappings are then unusable).
  bool renew() noexcept;

 private:
  bool map(int fd) noexcept;

  std::size_t bytes_;
  int fd_ = -1;
  char* device_ = nullptr;      // PROT_NONE: what allocate() hands out
  char* accessible_ = nullptr;  // read-write: what kernels and copies use
};

}  // namespace mlu::soft
