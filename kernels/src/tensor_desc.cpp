#include "mlu_kernels/tensor_desc.h"

#include "strided_loop.h"

namespace mlu::kernels {

void check_same_shape(const TensorDesc& a, const TensorDesc& b, const char* kernel) {
  bool same = a.ndim == b.ndim;
  for (int d = 0; same && d < a.ndim; ++d) same = a.sizes[d] == b.sizes[d];
  if (!same) throw KernelError(std::string(kernel) + ": operand shapes differ");
}

}  // namespace mlu::kernels
