// The boxed CPU fallback: operators without a native mlu kernel run PyTorch's CPU kernels on
// zero-copy host views of device memory, after the current stream has finished with it.
#pragma once

#include <ATen/core/stack.h>

#include <cstdint>
#include <map>
#include <string>

namespace c10 {
class OperatorHandle;
}

namespace torch_mlu {

struct FallbackRecord {
  std::uint64_t calls = 0;
  double seconds = 0;
  std::uint64_t bytes = 0;  // tensor bytes read and written
};

// The fallback itself, for native operators that hand one case over to the CPU (through
// at::native::call_fallback_fn), recorded in the ledger like any other fallback.
void cpu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack);

std::map<std::string, FallbackRecord> fallback_stats();
void reset_fallback_stats();
// Defaults to ENABLE_FALLBACK_TO_CPU (anything but "0" enables it).
bool fallback_enabled();
// ENABLE_FALLBACK_TO_CPU read strictly; throws std::invalid_argument naming a bad value.
bool fallback_enabled_from_environment();
void set_fallback_enabled(bool enabled);

// PyTorch 2.6 registers core's autograd fallback for AutogradCPU, AutogradCUDA and others but not
// for AutogradPrivateUse1, so an operator of another library without autograd kernels
// (torchvision::nms) never reaches its mlu kernel or the CPU fallback outside inference mode.
// Registers core's fallback there where PyTorch has none (later versions do).
void register_autograd_fallback();

}  // namespace torch_mlu
