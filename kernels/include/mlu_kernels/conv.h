// Convolutions (1-D, 2-D, 3-D; strided, padded, dilated, grouped, transposed) and their
// gradients, through oneDNN for float32, float16 and bfloat16, and a direct loop for float64,
// which oneDNN lacks.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "mlu_kernels/epilogue.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct ConvParams {
  int spatial_dims = 2;  // 1, 2 or 3
  std::array<std::int64_t, 3> stride{1, 1, 1};
  std::array<std::int64_t, 3> padding{0, 0, 0};
  std::array<std::int64_t, 3> dilation{1, 1, 1};
  std::array<std::int64_t, 3> output_padding{0, 0, 0};  // transposed only
  std::int64_t groups = 1;
  bool transposed = false;
  // Applied to the result, after the bias (forward only). None or Relu: the activations whose
  // gradient needs only the result, so that a training step need not keep the value before it.
  Activation activation = Activation::None;
};

// Shapes are PyTorch's: in [N, C_in, *], weight [C_out, C_in / groups, *k] or, transposed,
// [C_in, C_out / groups, *k], out [N, C_out, *], bias [C_out]. Operands share a dtype; any
// strides without overlap. bias may be null.
void convolution(const ConvParams& params, const TensorDesc& out, const TensorDesc& in,
                 const TensorDesc& weight, const TensorDesc* bias);

// Writes the gradients that are not null, from grad_out (out's shape) and the forward operands.
void convolution_backward(const ConvParams& params, const TensorDesc& grad_out,
                          const TensorDesc& in, const TensorDesc& weight, const TensorDesc* grad_in,
                          const TensorDesc* grad_weight, const TensorDesc* grad_bias);

// How float16 and bfloat16 convolutions compute, from MLU_CONV16: "auto" (unset) keeps them in
// 16 bits inside oneDNN (float32 accumulation) where oneDNN runs them on AMX and widens them to
// float32 elsewhere, where its 16-bit kernels measured slower; "native" keeps them 16-bit wherever
// oneDNN has more than its reference code; "float32" always widens. Throws std::invalid_argument
// naming the variable for any other value (the convolutions themselves then use "auto").
std::string conv16_policy_from_environment();

}  // namespace mlu::kernels
