// Resampling: upsampling of [N, C, *spatial] tensors (1 to 3 spatial dims, any strides) to out's
// spatial sizes, with PyTorch's CPU index arithmetic, and grid_sample (F.grid_sample, 4-D), with
// gradients.
#pragma once

#include <array>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

// Per spatial dim: the user's scale factor, or 0 when the ratio of sizes applies.
using UpsampleScales = std::array<double, 3>;

enum class UpsampleMode {
  Nearest,
  NearestExact,
  Linear,  // per dim: linear, bilinear, trilinear
  Cubic,   // bicubic, [N, C, H, W] only; scales are (H, W)
};

// align_corners applies to Linear and Cubic.
struct Upsample {
  static constexpr const char* name = "upsample";
  UpsampleMode mode;
  TensorDesc out, in;
  UpsampleScales scales;
  bool align_corners;
};
struct UpsampleBackward {
  static constexpr const char* name = "upsample_backward";
  UpsampleMode mode;
  TensorDesc grad_in, grad_out;
  UpsampleScales scales;
  bool align_corners;
};

// grid_sample: each output pixel reads the input at a point the grid gives in [-1, 1]
// coordinates, bilinearly or from the nearest pixel, as PyTorch's CPU kernels do.
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
struct GridSampler2d {
  static constexpr const char* name = "grid_sampler_2d";
  GridSample sampling;
  TensorDesc output;
};
// grad_input like input and grad_grid like grid, both contiguous and written whole; grad_output
// [N, C, Ho, Wo] with any strides.
struct GridSampler2dBackward {
  static constexpr const char* name = "grid_sampler_2d_backward";
  GridSample sampling;
  TensorDesc grad_output, grad_input, grad_grid;
};

void enqueue(Queue* queue, const Upsample& op);
void enqueue(Queue* queue, const UpsampleBackward& op);
void enqueue(Queue* queue, const GridSampler2d& op);
void enqueue(Queue* queue, const GridSampler2dBackward& op);

}  // namespace mlu::hal
