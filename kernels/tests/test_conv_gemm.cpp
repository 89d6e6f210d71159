// Convolutions as matrix products on the input's patches against oneDNN's direct convolutions:
// every pass, padding, stride, dilation, one to three spatial dims, and operands in other layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "conv_internal.h"

namespace mlu::kernels {
namespace {

// A float32 operand of the given shape whose dims are laid out in `order` (outermost first).
struct Operand {
  std::vector<float> data;
  TensorDesc desc;

  Operand(const std::vector<std::int64_t>& shape, const std::vector<int>& order, float scale) {
    desc.dtype = DType::Float32;
    desc.ndim = static_cast<int>(shape.size());
    std::int64_t stride = 1;
    for (int i = desc.ndim - 1; i >= 0; --i) {
      desc.sizes[order[i]] = shape[order[i]];
      desc.strides[order[i]] = stride;
      stride *= shape[order[i]];
    }
    data.resize(stride);
    for (std::int64_t i = 0; i < stride; ++i)
      data[i] = scale * static_cast<float>((i * 7919) % 23 - 11) / 11.f;
    desc.data = data.data();
  }
};

std::vector<int> in_order(int ndim) {
  std::vector<int> order(ndim);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

// Channels last: N, spatial dims, then C.
std::vector<int> channels_last(int ndim) {
  std::vector<int> order{0};
  for (int d = 2; d < ndim; ++d) order.push_back(d);
  order.push_back(1);
  return order;
}

struct Case {
  int dims;
  std::int64_t batch, in_channels, out_channels;
  std::vector<std::int64_t> size, kernel;
  std::int64_t stride, pad, dilation;
  bool bias, relu, strided_layouts;
};

std::int64_t out_size(std::int64_t in, std::int64_t k, const Case& c) {
  return (in + 2 * c.pad - c.dilation * (k - 1) - 1) / c.stride + 1;
}

class ConvGemm : public ::testing::TestWithParam<Case> {};

TEST_P(ConvGemm, MatchesTheDirectConvolutionInEveryPass) {
  const Case& c = GetParam();
  DirectConv conv;
  conv.spatial_dims = c.dims;
  conv.relu = c.relu;
  std::vector<std::int64_t> x_shape{c.batch, c.in_channels}, w_shape{c.out_channels, c.in_channels},
      y_shape{c.batch, c.out_channels};
  for (int i = 0; i < c.dims; ++i) {
    conv.stride[i] = c.stride;
    conv.dilation[i] = c.dilation;
    conv.pad_before[i] = conv.pad_after[i] = c.pad;
    x_shape.push_back(c.size[i]);
    w_shape.push_back(c.kernel[i]);
    y_shape.push_back(out_size(c.size[i], c.kernel[i], c));
  }
  const int ndim = c.dims + 2;
  const auto layout = c.strided_layouts ? channels_last(ndim) : in_order(ndim);
  std::vector<int> w_layout = in_order(ndim);
  if (c.strided_layouts) std::swap(w_layout[0], w_layout[1]);  // a transposed weight
  const Operand x(x_shape, layout, 1.f), w(w_shape, w_layout, 0.5f), dy(y_shape, layout, 1.f);
  const Operand bias({c.out_channels}, {0}, 2.f);
  const TensorDesc* b = c.bias ? &bias.desc : nullptr;

  // Forward: y from x and w.
  Operand y_gemm(y_shape, layout, 0.f), y_direct(y_shape, layout, 0.f);
  gemm_convolution(ConvPass::Forward, conv, x.desc, w.desc, y_gemm.desc, b);
  onednn_convolution(ConvPass::Forward, conv, x.desc, w.desc, y_direct.desc, b);
  for (std::size_t i = 0; i < y_gemm.data.size(); ++i)
    ASSERT_NEAR(y_gemm.data[i], y_direct.data[i], 1e-4f * (1 + std::abs(y_direct.data[i]))) << i;

  // Backward data: x's gradient from y's and w (the gemm side's buffer starts with garbage).
  conv.relu = false;
  Operand dx_gemm(x_shape, layout, 3.f), dx_direct(x_shape, layout, 0.f);
  gemm_convolution(ConvPass::BackwardData, conv, dx_gemm.desc, w.desc, dy.desc, nullptr);
  onednn_convolution(ConvPass::BackwardData, conv, dx_direct.desc, w.desc, dy.desc, nullptr);
  for (std::size_t i = 0; i < dx_gemm.data.size(); ++i)
    ASSERT_NEAR(dx_gemm.data[i], dx_direct.data[i], 1e-4f * (1 + std::abs(dx_direct.data[i]))) << i;

  // Backward weights: w's gradient from x and y's gradient.
  Operand dw_gemm(w_shape, w_layout, 3.f), dw_direct(w_shape, w_layout, 0.f);
  gemm_convolution(ConvPass::BackwardWeights, conv, x.desc, dw_gemm.desc, dy.desc, nullptr);
  onednn_convolution(ConvPass::BackwardWeights, conv, x.desc, dw_direct.desc, dy.desc, nullptr);
  for (std::size_t i = 0; i < dw_gemm.data.size(); ++i)
    ASSERT_NEAR(dw_gemm.data[i], dw_direct.data[i], 1e-4f * (1 + std::abs(dw_direct.data[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvGemm,
    ::testing::Values(
        // ResNet-18's deepest layer at 32 x 32 images: 1 x 1 outputs, the kernel mostly padding.
        Case{2, 4, 64, 48, {1, 1}, {3, 3}, 1, 1, 1, false, false, false},
        Case{2, 3, 5, 7, {9, 8}, {3, 3}, 2, 1, 1, true, true, false},
        Case{2, 2, 6, 4, {8, 8}, {3, 3}, 1, 2, 2, true, false, true},
        Case{2, 2, 3, 8, {12, 12}, {7, 7}, 2, 3, 1, false, true, false},
        Case{2, 5, 16, 16, {4, 4}, {1, 1}, 2, 0, 1, false, false, true},
        Case{1, 4, 8, 6, {20}, {5}, 2, 2, 1, true, false, false},
        Case{3, 2, 3, 4, {5, 6, 4}, {3, 3, 3}, 1, 1, 1, true, false, true},
        // Large enough that the patches and the products are split between the kernel threads.
        Case{2, 8, 32, 64, {16, 16}, {3, 3}, 1, 1, 1, true, false, false}));

}  // namespace
}  // namespace mlu::kernels
