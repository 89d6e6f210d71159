#include <string>

#include "mlu_kernels/copy.h"
#include "mlu_kernels/shape.h"

namespace mlu::kernels {

void cat(const TensorDesc& out, const std::vector<TensorDesc>& inputs, int dim) {
  if (dim < 0 || dim >= out.ndim) throw KernelError("cat: dimension out of range");
  std::int64_t offset = 0;
  for (const TensorDesc& input : inputs) {
    if (input.ndim != out.ndim) throw KernelError("cat: inputs must have out's rank");
    TensorDesc slice = out;
    slice.sizes[dim] = input.sizes[dim];
    if (offset + slice.sizes[dim] > out.sizes[dim])
      throw KernelError("cat: inputs exceed out along dim");
    slice.data = static_cast<char*>(out.data) +
                 offset * out.strides[dim] * static_cast<std::int64_t>(element_size(out.dtype));
    copy(slice, input);  // checks the other dims
    offset += slice.sizes[dim];
  }
  if (offset != out.sizes[dim]) throw KernelError("cat: inputs do not fill out along dim");
}

}  // namespace mlu::kernels
