// A random operation's range of the device generator's Philox counter, for operators in other
// files that draw random numbers inside their kernels (attention's dropout).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/TensorBase.h>

#include <optional>

#include "../generator.h"
#include "mlu/ops/random.h"

namespace torch_mlu::ops {

// Takes n counter values of `generator` (the default one of self's device when absent):
// absolute, or, in a captured graph, relative to the base the running replay sets (the operation
// resolves it where it runs).
hal::RandomRange reserve(const std::optional<at::Generator>& generator, const at::TensorBase& self,
                         std::uint64_t n);

}  // namespace torch_mlu::ops
