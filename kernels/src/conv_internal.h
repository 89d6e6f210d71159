// The direct convolution every PyTorch convolution reduces to: y = x (*) w, where a transposed
// convolution is the data gradient of a direct one. Implemented by oneDNN, by matrix products and
// by a loop.
#pragma once

#include <array>
#include <cstdint>

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

struct DirectConv {
  int spatial_dims = 2;
  std::array<std::int64_t, 3> stride{1, 1, 1};
  std::array<std::int64_t, 3> dilation{1, 1, 1};
  std::array<std::int64_t, 3> pad_before{0, 0, 0};
  std::array<std::int64_t, 3> pad_after{0, 0, 0};  // never negative: x is cropped instead
  std::int64_t groups = 1;
  bool relu = false;  // Forward: y = max(y, 0) as oneDNN writes it
};

// Which operand a pass computes (and overwrites) from the other two:
// Forward y = conv(x, w) (+ bias), BackwardData x = conv^T(y, w), BackwardWeights w from x and y.
enum class ConvPass { Forward, BackwardData, BackwardWeights };

// x [N, C_x, *], w [C_y, C_x / groups, *k], y [N, C_y, *]; float32, float16 or bfloat16.
// bias [C_y] (Forward only) may be null. conv.relu is applied by the Forward pass only.
void onednn_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                        const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias);

// The same as matrix products on x's patches (im2col): one group, any x, w and y strides; 16-bit
// operands compute as float32 copies.
void gemm_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                      const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias);

// Whether a convolution runs as gemm_convolution rather than onednn_convolution: MLU_CONV_GEMM's
// policy where gemm_convolution applies (the same for every pass of a layer).
bool convolution_as_gemm(const DirectConv& conv, const TensorDesc& x, const TensorDesc& w,
                         const TensorDesc& y);

// Runs `implementation`'s pass on float32 copies of 16-bit operands, rounding its output once.
using ConvImplementation = void(ConvPass, const DirectConv&, const TensorDesc& x,
                                const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias);
void convolution_on_float32_copies(ConvImplementation* implementation, ConvPass pass,
                                   const DirectConv& conv, const TensorDesc& x, const TensorDesc& w,
                                   const TensorDesc& y, const TensorDesc* bias);

// The same for float64 and integers, by direct loops.
void reference_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                           const TensorDesc& w, const TensorDesc& y);

}  // namespace mlu::kernels
