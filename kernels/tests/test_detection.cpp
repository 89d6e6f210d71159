// Detection kernels on raw descriptors: suppression order, pooling of planes whose answers are
// known in closed form, and the descriptors and rois the kernels refuse.
#include <gtest/gtest.h>

#include <vector>

#include "desc.h"
#include "mlu_kernels/deform_conv.h"
#include "mlu_kernels/detection.h"

namespace mlu::kernels {
namespace {

using testing::contiguous;

TEST(Nms, KeepsTheBestOfEachOverlappingClusterInScoreOrder) {
  // Boxes 0 and 1 overlap with IoU 0.68; box 2 is apart. Scores rank 1, 2, 0.
  std::vector<float> boxes{0, 0, 10, 10, 1, 1, 11, 11, 50, 50, 60, 60};
  std::vector<std::int64_t> order{1, 2, 0}, keep(3, -1), kept(1, -1);
  nms(contiguous(DType::Float32, boxes, {3, 4}), contiguous(DType::Int64, order, {3}), 0.5,
      contiguous(DType::Int64, keep, {3}), contiguous(DType::Int64, kept, {1}));
  ASSERT_EQ(kept[0], 2);
  EXPECT_EQ(keep[0], 1);
  EXPECT_EQ(keep[1], 2);
  // Above their IoU nothing is suppressed.
  nms(contiguous(DType::Float32, boxes, {3, 4}), contiguous(DType::Int64, order, {3}), 0.7,
      contiguous(DType::Int64, keep, {3}), contiguous(DType::Int64, kept, {1}));
  EXPECT_EQ(kept[0], 3);
}

RoiPooling pooling(RoiKind kind, TensorDesc rois, std::int64_t side) {
  RoiPooling p;
  p.kind = kind;
  p.rois = rois;
  p.pooled_height = p.pooled_width = side;
  p.sampling_ratio = 2;
  return p;
}

TEST(RoiPool, AlignOfALinearRampIsTheRampAtEachBinCentre) {
  // Plane value = x; bilinear sampling of a linear function is exact, so each bin's average is
  // the x of its centre: roi [2, 6) in 2 bins has centres 3 and 5.
  std::vector<double> plane(8 * 8);
  for (int i = 0; i < 64; ++i) plane[i] = i % 8;
  std::vector<double> rois{0, 2, 2, 6, 6}, out(4);
  std::vector<std::int32_t> unused;
  roi_pool_forward(pooling(RoiKind::Align, contiguous(DType::Float64, rois, {1, 5}), 2),
                   contiguous(DType::Float64, plane, {1, 1, 8, 8}),
                   contiguous(DType::Float64, out, {1, 1, 2, 2}),
                   contiguous(DType::Int32, unused, {0}));
  EXPECT_DOUBLE_EQ(out[0], 3.0);
  EXPECT_DOUBLE_EQ(out[1], 5.0);
  EXPECT_DOUBLE_EQ(out[2], 3.0);
}

TEST(RoiPool, MaxPoolBackwardRoutesEachGradientToItsArgmax) {
  std::vector<float> plane(4 * 4, 0.0f);
  plane[5] = 9.0f;  // (1, 1), inside the top-left bin of the roi below
  std::vector<float> rois{0, 0, 0, 3, 3}, out(4), grad_out{1, 2, 3, 4}, grad(16, -1.0f);
  std::vector<std::int32_t> argmax(4);
  const RoiPooling p = pooling(RoiKind::MaxPool, contiguous(DType::Float32, rois, {1, 5}), 2);
  roi_pool_forward(p, contiguous(DType::Float32, plane, {1, 1, 4, 4}),
                   contiguous(DType::Float32, out, {1, 1, 2, 2}),
                   contiguous(DType::Int32, argmax, {1, 1, 2, 2}));
  EXPECT_EQ(out[0], 9.0f);
  EXPECT_EQ(argmax[0], 5);
  roi_pool_backward(p, contiguous(DType::Float32, grad_out, {1, 1, 2, 2}),
                    contiguous(DType::Int32, argmax, {1, 1, 2, 2}),
                    contiguous(DType::Float32, grad, {1, 1, 4, 4}));
  float total = 0;
  for (float g : grad) total += g;
  EXPECT_EQ(grad[5], 1.0f);
  EXPECT_EQ(total, 10.0f);  // written whole: the -1 fill is gone, every gradient placed once
}

TEST(RoiPool, RefusesARoiOfAnImageNotInTheInput) {
  std::vector<float> plane(16), rois{1, 0, 0, 3, 3}, out(4);
  std::vector<std::int32_t> unused;
  EXPECT_THROW(
      roi_pool_forward(pooling(RoiKind::Align, contiguous(DType::Float32, rois, {1, 5}), 2),
                       contiguous(DType::Float32, plane, {1, 1, 4, 4}),
                       contiguous(DType::Float32, out, {1, 1, 2, 2}),
                       contiguous(DType::Int32, unused, {0})),
      KernelError);
}

TEST(DeformConv, ZeroOffsetsSampleThePlainConvolutionWindow) {
  // 1 channel 3x3, kernel 2x2, no padding: output 2x2, and with zero offsets column (tap k,
  // position p) is the pixel under it.
  std::vector<float> input{1, 2, 3, 4, 5, 6, 7, 8, 9}, offset(8 * 4, 0.0f), columns(4 * 4);
  DeformConv conv;
  conv.input = contiguous(DType::Float32, input, {1, 1, 3, 3});
  conv.offset = contiguous(DType::Float32, offset, {1, 8, 2, 2});
  conv.kernel_h = conv.kernel_w = 2;
  deform_im2col(conv, contiguous(DType::Float32, columns, {1, 4, 4}));
  const std::vector<float> expected{1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9};
  EXPECT_EQ(columns, expected);
  // Half a pixel right: the average of two neighbours, or half a pixel past the edge.
  for (int p = 0; p < 4; ++p) offset[1 * 4 + p] = 0.5f;  // tap 0, dx
  deform_im2col(conv, contiguous(DType::Float32, columns, {1, 4, 4}));
  EXPECT_FLOAT_EQ(columns[0], 1.5f);
  EXPECT_FLOAT_EQ(columns[1], 2.5f);
}

}  // namespace
}  // namespace mlu::kernels
