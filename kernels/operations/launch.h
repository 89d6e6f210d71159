// How the software MLU implements the device contract's operations (mlu/ops): each enqueue()
// launches, on the queue, work that runs the kernel library on the operation's descriptors.
// A hardware driver implements the same functions with its own kernels (CNNL).
#pragma once

#include <optional>

#include "mlu/hal.h"
#include "mlu/ops.h"

namespace mlu::hal::software {

// Enqueues run(copy of operation) under the operation's name. The work owns its copy, so that
// host values (Operand::bind) and optional operands point into memory that lives as long as it.
template <typename Operation, typename Run>
void launch(Queue* queue, const Operation& operation, Run run) {
  driver().launch(queue, Operation::name,
                  [operation = Operation(operation), run]() mutable { run(operation); });
}

// The kernel library takes an absent operand or bound as null.
template <typename T>
const T* address_or_null(const std::optional<T>& value) {
  return value ? &*value : nullptr;
}

}  // namespace mlu::hal::software
