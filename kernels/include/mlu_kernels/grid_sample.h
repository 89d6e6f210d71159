// grid_sample (F.grid_sample, 4-D): each output pixel reads the input at a point the grid gives
// in [-1, 1] coordinates, bilinearly or from the nearest pixel, as PyTorch's CPU kernels do.
#pragma once

#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

enum class GridInterpolation { Bilinear = 0, Nearest = 1 };
enum class GridPadding { Zeros = 0, Border = 1, Reflection = 2 };

struct GridSample {
  TensorDesc input;  // [N, C, H, W], float32 or float64, any strides
  TensorDesc grid;   // [N, Ho, Wo, 2] (x, y), the input's dtype, any strides
  GridInterpolation interpolation = GridInterpolation::Bilinear;
  GridPadding padding = GridPadding::Zeros;
  bool align_corners = false;
};

// output [N, C, Ho, Wo], contiguous.
void grid_sample(const GridSample& g, const TensorDesc& output);

// grad_input like input and grad_grid like grid, both contiguous and written whole; grad_output
// [N, C, Ho, Wo] with any strides.
void grid_sample_backward(const GridSample& g, const TensorDesc& grad_output,
                          const TensorDesc& grad_input, const TensorDesc& grad_grid);

}  // namespace mlu::kernels
