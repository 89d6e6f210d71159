// Convolutions and their gradients (mlu/ops/conv.h), through oneDNN or matrix products for
// float32, oneDNN for float16 and bfloat16, and a direct loop for float64, which oneDNN lacks.
#pragma once

#include <cstdint>
#include <string>

#include "mlu/ops/conv.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// bias may be null.
void convolution(const ConvParams& params, const TensorDesc& out, const TensorDesc& in,
                 const TensorDesc& weight, const TensorDesc* bias);

// Writes the gradients that are not null.
void convolution_backward(const ConvParams& params, const TensorDesc& grad_out,
                          const TensorDesc& in, const TensorDesc& weight, const TensorDesc* grad_in,
                          const TensorDesc* grad_weight, const TensorDesc* grad_bias);

// torch's im2col and col2im (mlu/ops/conv.h).
void im2col(const PatchGeometry& geometry, const TensorDesc& columns, const TensorDesc& image);
void col2im(const PatchGeometry& geometry, const TensorDesc& image, const TensorDesc& columns);

// How float16 and bfloat16 convolutions compute, from MLU_CONV16: "auto" (unset) keeps them in
// 16 bits inside oneDNN (float32 accumulation) where oneDNN runs them on AMX, and elsewhere times
// its 16-bit kernel against widening to float32 on the first call of each layer and keeps the
// faster; "native" keeps them 16-bit wherever oneDNN has more than its reference code; "float32"
// always widens. Throws std::invalid_argument naming the variable for any other value (the
// convolutions themselves then use "auto").
std::string conv16_policy_from_environment();

// The 16-bit convolution plans (one per shape and pass) made in this process, by how they compute.
struct Conv16Plans {
  std::int64_t bfloat16_in_16_bits, bfloat16_widened, float16_in_16_bits, float16_widened;
};
Conv16Plans conv16_plans();

// Whether convolutions (one group; 16-bit ones widened, unless MLU_CONV16 is "native") run as
// matrix products on the input's patches, from MLU_CONV_GEMM: "auto" (unset) where the weights
// outnumber the patch matrix's elements twice over; "always" wherever the patches fit; "never".
// Throws std::invalid_argument naming the variable for any other value.
std::string conv_gemm_policy_from_environment();

}  // namespace mlu::kernels
