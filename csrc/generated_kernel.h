// Kernels generated at run time (Inductor's C++ code for mlu, torch_mlu/_inductor.py). Each is
// compiled with one entry point that takes its arguments as 64-bit words, and is launched on the
// current stream like a library kernel, so that it runs in order with eager work.
#pragma once

#include <c10/core/Device.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace torch_mlu {

// A launch's arguments: one word per kernel argument, and copies of host memory the kernel reads
// (a CPU scalar such as an optimizer's step count), taken when the launch is enqueued, as an
// eager operator reads a CPU scalar when it is called.
struct KernelArguments {
  std::vector<std::uint64_t> words;
  std::vector<std::uint64_t> host_bytes;                     // 8-byte aligned copies
  std::vector<std::pair<std::size_t, std::size_t>> host_at;  // (word index, byte offset)

  void add_host_copy(const void* data, std::size_t bytes);  // appends the word for it
};

struct GeneratedKernel {
  using Entry = void (*)(const std::uint64_t* words);

  // name is kept for the life of the process: queued work and error messages refer to it.
  GeneratedKernel(std::uintptr_t entry_address, const std::string& kernel_name);

  // Enqueues the kernel on the current stream of device.
  void launch(c10::DeviceIndex device, KernelArguments arguments) const;

  Entry entry;
  const char* name;
};

}  // namespace torch_mlu
