// Shapes of reductions, shared by the reduce wrappers (reduce.cpp, reduce_index.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <bitset>
#include <vector>

#include "../tensor_desc.h"

namespace torch_mlu::ops {

struct ReductionShape {
  std::bitset<64> reduced;     // input dims that are reduced
  std::vector<int64_t> shape;  // the output's shape
  int64_t count = 1;           // input elements per output element
};

// An absent or empty dim list reduces every dim, as ATen's reductions do.
ReductionShape reduction_shape(const at::Tensor& self, at::OptionalIntArrayRef dims, bool keepdim);

// out described with self's ndim: reduced dims appear with size 1 (what the operations take).
hal::TensorDesc keepdim_desc(const at::Tensor& out, const at::Tensor& self,
                             const std::bitset<64>& reduced);

// With an empty input, reductions without an identity need a dim list naming only non-empty dims.
void check_reducible(const char* name, const at::Tensor& self, const ReductionShape& shape,
                     bool dims_given);

}  // namespace torch_mlu::ops
