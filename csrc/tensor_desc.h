// Bridges ATen tensors to the device contract's raw descriptors and enqueues its operations.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/FunctionRef.h>

#include <optional>

#include "mlu/ops.h"
#include "stream.h"

namespace torch_mlu {

// Throws a TypeError naming the dtype when the device takes no such dtype (hal::supports).
hal::DType kernel_dtype(c10::ScalarType type);
hal::TensorDesc describe(const at::Tensor& tensor);
// A tensor without gaps or overlap (any dim order) as the 1-d run of its elements in memory.
hal::TensorDesc describe_flat(const at::Tensor& dense);
// Whether a and b lay their elements out alike without gaps or overlap, so that their flat
// descriptions correspond element by element: both contiguous, or with equal strides (a
// channels-last parameter and its gradient).
bool same_dense_layout(const at::Tensor& a, const at::Tensor& b);
// A complex tensor as the device's operations take it: its interleaved real view (view_as_real; a
// pending conjugation must have been resolved).
hal::TensorDesc describe_interleaved(const at::Tensor& complex);
// Where a kernel reaches a device tensor's data (its data_ptr unless device memory is protected
// from the host: hal::kernel_address). Only for work launched on a queue.
template <typename T>
T* kernel_data(const at::Tensor& tensor) {
  return hal::kernel_address(tensor.data_ptr<T>());
}
// Nothing for an undefined tensor (an absent optional operand).
std::optional<hal::TensorDesc> maybe_describe(const at::Tensor& tensor);

// Calls enqueue with the current queue of device: work the profiler traces and kernel_launches
// counts as one kernel named name.
void enqueue_kernel(c10::DeviceIndex device, const char* name,
                    c10::function_ref<void(hal::Queue*)> enqueue);

// Raises NotImplementedError: the device does not run operations of this name.
[[noreturn]] void unsupported_operation(const char* name);

// Enqueues a device operation (mlu/ops.h) on the current stream of the tensor's device.
template <typename Operation>
void launch(c10::DeviceIndex device, const Operation& operation) {
  static const bool supported = hal::supports_operation(Operation::name);  // asked once per type
  if (!supported) unsupported_operation(Operation::name);
  enqueue_kernel(device, Operation::name,
                 [&operation](hal::Queue* queue) { hal::enqueue(queue, operation); });
}
template <typename Operation>
void launch(const at::Tensor& on, const Operation& operation) {
  launch(on.device().index(), operation);
}

// Enqueues host work on the current stream of device (the software MLU runs it on the queue's
// thread): what is not an operation of the contract, such as generated kernels and collectives.
void launch(const at::Tensor& on, const char* name, hal::Work work);
void launch(c10::DeviceIndex device, const char* name, hal::Work work);

// Enqueues the driver's copy of bytes on the current stream of device (a copy activity of a
// profiler trace).
void enqueue_copy(c10::DeviceIndex device, void* dst, const void* src, std::size_t bytes,
                  hal::CopyKind kind);

// Kernels enqueued by this process so far (library and generated kernels; not copies): what a
// compiled graph saves is visible as fewer launches per step.
std::uint64_t kernel_launches() noexcept;

}  // namespace torch_mlu
