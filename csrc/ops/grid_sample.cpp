// grid_sampler_2d (F.grid_sample on 4-D inputs) and its gradient, bilinear and nearest, in
// mlu/ops/upsample.h; 16-bit operands sample in float32. Bicubic runs on the CPU fallback, in the
// ledger.
#include <ATen/ATen.h>
#include <ATen/Operators.h>
#include <ATen/native/CPUFallback.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "../fallback.h"
#include "common.h"

namespace torch_mlu::ops {
namespace {

constexpr int64_t kBicubic = 2;

hal::GridSample describe_sampling(const at::Tensor& input, const at::Tensor& grid,
                                  int64_t interpolation, int64_t padding, bool align_corners) {
  TORCH_CHECK(
      input.dim() == 4 && grid.dim() == 4 && grid.size(3) == 2 && grid.size(0) == input.size(0),
      "grid_sampler_2d: expected input [N, C, H, W] and grid [N, H_out, W_out, 2] with the "
      "same N, got ",
      input.sizes(), " and ", grid.sizes());
  TORCH_CHECK(input.scalar_type() == grid.scalar_type() && at::isFloatingType(input.scalar_type()),
              "grid_sampler_2d: expected input and grid of one floating-point dtype, got ",
              input.scalar_type(), " and ", grid.scalar_type());
  TORCH_CHECK(interpolation == 0 || interpolation == 1, "grid_sampler_2d: interpolation mode ",
              interpolation, " is not bilinear (0), nearest (1) or bicubic (2)");
  TORCH_CHECK(padding >= 0 && padding <= 2, "grid_sampler_2d: padding mode ", padding,
              " is not zeros (0), border (1) or reflection (2)");
  return {describe(input), describe(grid), static_cast<hal::GridInterpolation>(interpolation),
          static_cast<hal::GridPadding>(padding), align_corners};
}

at::ScalarType compute_type(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

at::Tensor grid_sampler_2d(const at::Tensor& input, const at::Tensor& grid, int64_t interpolation,
                           int64_t padding, bool align_corners) {
  if (interpolation == kBicubic) {
    return at::native::call_fallback_fn<&cpu_fallback, ATEN_OP(grid_sampler_2d)>::call(
        input, grid, interpolation, padding, align_corners);
  }
  c10::DeviceGuard guard(common_device({&input, &grid}));
  const at::ScalarType type = compute_type(input);
  const at::Tensor x = input.to(type), g = grid.to(type);
  const hal::GridSample sampling = describe_sampling(x, g, interpolation, padding, align_corners);
  at::Tensor out = at::empty({x.size(0), x.size(1), g.size(1), g.size(2)}, x.options());
  if (out.numel() > 0) {
    launch(out, hal::GridSampler2d{sampling, describe(out)});
  }
  return out.to(input.scalar_type());
}

std::tuple<at::Tensor, at::Tensor> grid_sampler_2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& grid,
    int64_t interpolation, int64_t padding, bool align_corners, std::array<bool, 2> output_mask) {
  if (interpolation == kBicubic) {
    return at::native::call_fallback_fn<&cpu_fallback, ATEN_OP(grid_sampler_2d_backward)>::call(
        grad_output, input, grid, interpolation, padding, align_corners, output_mask);
  }
  c10::DeviceGuard guard(common_device({&grad_output, &input, &grid}));
  const at::ScalarType type = compute_type(input);
  const at::Tensor x = input.to(type), g = grid.to(type), go = grad_output.to(type);
  const hal::GridSample sampling = describe_sampling(x, g, interpolation, padding, align_corners);
  TORCH_CHECK(go.dim() == 4 && go.size(0) == x.size(0) && go.size(1) == x.size(1) &&
                  go.size(2) == g.size(1) && go.size(3) == g.size(2),
              "grid_sampler_2d_backward: expected a gradient of shape [", x.size(0), ", ",
              x.size(1), ", ", g.size(1), ", ", g.size(2), "], got ", go.sizes());
  at::Tensor grad_input = at::empty(x.sizes(), x.options());
  at::Tensor grad_grid = at::empty(g.sizes(), g.options());
  if (grad_input.numel() > 0 || grad_grid.numel() > 0) {
    launch(grad_grid, hal::GridSampler2dBackward{sampling, describe(go), describe(grad_input),
                                                 describe(grad_grid)});
  }
  return {output_mask[0] ? grad_input.to(input.scalar_type()) : at::Tensor(),
          grad_grid.to(grid.scalar_type())};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("grid_sampler_2d", grid_sampler_2d);
  m.impl("grid_sampler_2d_backward", grid_sampler_2d_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
