// grid_sample on raw descriptors: an identity grid reproduces the input, a point between pixels
// averages them, and the backward pass of the identity routes each gradient to its pixel.
#include <gtest/gtest.h>

#include <vector>

#include "desc.h"
#include "mlu_kernels/grid_sample.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

// The grid of align_corners=True whose points are the input's pixel centres.
std::vector<double> identity_grid(int h, int w) {
  std::vector<double> grid;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      grid.push_back(-1.0 + 2.0 * x / (w - 1));
      grid.push_back(-1.0 + 2.0 * y / (h - 1));
    }
  }
  return grid;
}

TEST(GridSample, IdentityGridReproducesTheInputAndRoutesGradientsBack) {
  std::vector<double> input{1, 2, 3, 4, 5, 6}, grid = identity_grid(2, 3), out(6);
  GridSample g;
  g.input = contiguous(DType::Float64, input, {1, 1, 2, 3});
  g.grid = contiguous(DType::Float64, grid, {1, 2, 3, 2});
  g.align_corners = true;
  grid_sample(g, contiguous(DType::Float64, out, {1, 1, 2, 3}));
  EXPECT_EQ(out, input);
  std::vector<double> grad_out{1, 10, 100, 1000, 1e4, 1e5}, grad_in(6, -1), grad_grid(12, -1);
  grid_sample_backward(g, contiguous(DType::Float64, grad_out, {1, 1, 2, 3}),
                       contiguous(DType::Float64, grad_in, {1, 1, 2, 3}),
                       contiguous(DType::Float64, grad_grid, {1, 2, 3, 2}));
  EXPECT_EQ(grad_in, grad_out);
}

TEST(GridSample, APointBetweenTwoPixelsAveragesThem) {
  std::vector<float> input{2, 4}, grid{0, 0}, out(1);  // the centre of a 1x2 image
  GridSample g;
  g.input = contiguous(DType::Float32, input, {1, 1, 1, 2});
  g.grid = contiguous(DType::Float32, grid, {1, 1, 1, 2});
  g.align_corners = true;
  grid_sample(g, contiguous(DType::Float32, out, {1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(out[0], 3.0f);
  g.interpolation = GridInterpolation::Nearest;  // 0.5 rounds to even: pixel 0
  grid_sample(g, contiguous(DType::Float32, out, {1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(out[0], 2.0f);
}

}  // namespace
}  // namespace mlu::kernels
