// Convolutions (1-D, 2-D, 3-D; strided, padded, dilated, grouped, transposed) and their
// gradients, and the sampling parts of torchvision's deformable convolution.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "mlu/ops/gemm.h"
#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

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
// strides without overlap.
struct Convolution {
  static constexpr const char* name = "convolution";
  ConvParams params;
  TensorDesc out, in, weight;
  std::optional<TensorDesc> bias;
};

// Writes the gradients that are present, from grad_out (out's shape) and the forward operands.
struct ConvolutionBackward {
  static constexpr const char* name = "convolution_backward";
  ConvParams params;
  TensorDesc grad_out, in, weight;
  std::optional<TensorDesc> grad_in, grad_weight, grad_bias;
};

// Deformable convolution (deform_conv2d, DCNv1 and DCNv2 with a mask): each kernel tap reads the
// input at its grid position plus a learned offset, bilinearly. The matrix products around these
// operations are the caller's. Float32 and float64, contiguous operands.
struct DeformConv {
  TensorDesc input;   // [N, C, H, W]
  TensorDesc offset;  // [N, 2 * G * KH * KW, OH, OW]: (dy, dx) per offset group and tap
  TensorDesc mask;    // [N, G * KH * KW, OH, OW]: each tap's weight; read only when use_mask
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0,
               dilation_h = 1, dilation_w = 1;
  std::int64_t offset_groups = 1;  // G: channel c uses group c / (C / G)
  bool use_mask = false;
};

// columns [N, C * KH * KW, OH * OW]: the (masked) sample of channel c at tap k in row c * KH * KW +
// k.
struct DeformIm2col {
  static constexpr const char* name = "deform_conv2d im2col";
  DeformConv conv;
  TensorDesc columns;
};

// grad_input [N, C, H, W], written whole: the columns' gradient spread back to the pixels.
struct DeformCol2im {
  static constexpr const char* name = "deform_conv2d col2im";
  DeformConv conv;
  TensorDesc grad_columns, grad_input;
};

// grad_offset (offset's shape) and, when use_mask, grad_mask (mask's shape), written whole.
struct DeformCol2imCoord {
  static constexpr const char* name = "deform_conv2d col2im_coord";
  DeformConv conv;
  TensorDesc grad_columns, grad_offset, grad_mask;
};

// The patches of 2-D images as columns (torch's im2col, nn.Unfold) and back (col2im, nn.Fold,
// which adds every column entry to the pixel im2col read it from): image [N, C, H, W], columns
// [N, C * KH * KW, OH * OW] with row c * KH * KW + kh * KW + kw, zero where a patch reads padding.
// Floating dtypes and bool (col2im adds bools as logical or), any strides; OH and OW follow from
// the image size and the geometry.
struct PatchGeometry {
  std::array<std::int64_t, 2> kernel{1, 1}, dilation{1, 1}, padding{0, 0}, stride{1, 1};
};
struct Im2col {
  static constexpr const char* name = "im2col";
  PatchGeometry geometry;
  TensorDesc columns, image;  // columns is written
};
struct Col2im {
  static constexpr const char* name = "col2im";
  PatchGeometry geometry;
  TensorDesc image, columns;  // image is written whole
};

void enqueue(Queue* queue, const Convolution& op);
void enqueue(Queue* queue, const ConvolutionBackward& op);
void enqueue(Queue* queue, const Im2col& op);
void enqueue(Queue* queue, const Col2im& op);
void enqueue(Queue* queue, const DeformIm2col& op);
void enqueue(Queue* queue, const DeformCol2im& op);
void enqueue(Queue* queue, const DeformCol2imCoord& op);

}  // namespace mlu::hal
