// A random operation's range of the device generator's Philox counter, for operators in other
// files that draw random numbers inside their kernels (attention's dropout).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/TensorBase.h>

#include <memory>
#include <optional>

#include "../generator.h"
#include "mlu_kernels/random.h"

namespace torch_mlu::ops {

// Absolute, or, in a captured graph, relative to the base the running replay set (resolve()
// inside the launched work).
struct RandomRange {
  kernels::PhiloxState state;
  std::shared_ptr<const ReplayRandomBase> replay;

  kernels::PhiloxState resolve() const {
    if (!replay) return state;
    return {replay->seed, replay->offset + state.offset};
  }
};

// Takes n counter values of `generator` (the default one of self's device when absent).
RandomRange reserve(const std::optional<at::Generator>& generator, const at::TensorBase& self,
                    std::uint64_t n);

}  // namespace torch_mlu::ops
