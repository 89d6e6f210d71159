// Pinned (page-locked) host memory: what tensor.pin_memory() returns for mlu, so that
// non_blocking copies are truly asynchronous.
#pragma once

#include <c10/core/Allocator.h>

#include "device.h"

namespace torch_mlu {

c10::Allocator* host_allocator();
bool is_pinned(const void* ptr);
// Keeps a pinned block alive until the queue's work enqueued so far has finished. ptr is the
// block's base address (the storage's data pointer), which is what freeing looks up.
void record_host_use(const void* ptr, hal::Queue* queue);

}  // namespace torch_mlu
