// Strided iteration: a permuted dense layout (channels last) runs as one contiguous row where
// order does not matter, index order is kept where it does, and every element is visited once
// with the same element of each operand.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "desc.h"
#include "mlu_kernels/elementwise.h"
#include "strided_loop.h"

namespace mlu::kernels {
namespace {

// [n, c, h, w] in channels-last memory order (c fastest) over data.
TensorDesc channels_last(std::vector<float>& data, std::int64_t n, std::int64_t c, std::int64_t h,
                         std::int64_t w) {
  TensorDesc d = testing::contiguous(DType::Float32, data, {n, c, h, w});
  d.strides[0] = h * w * c;
  d.strides[1] = 1;
  d.strides[2] = w * c;
  d.strides[3] = c;
  return d;
}

TEST(StridedLoop, ChannelsLastRunsAsOneContiguousRow) {
  std::vector<float> a(2 * 3 * 4 * 5), b(a.size());
  const TensorDesc x = channels_last(a, 2, 3, 4, 5), y = channels_last(b, 2, 3, 4, 5);
  const StridedLayout<2> memory = coalesce<2>({&x, &y}, /*memory_order=*/true);
  ASSERT_EQ(memory.ndim, 1);
  EXPECT_EQ(memory.sizes[0], 120);
  EXPECT_EQ(memory.strides[0][0], 4);
  EXPECT_EQ(memory.strides[1][0], 4);
  EXPECT_GT(coalesce<2>({&x, &y}, /*memory_order=*/false).ndim, 1);  // index order kept
}

TEST(StridedLoop, TheFirstOperandsMemoryOrderLeadsWhenLayoutsDiffer) {
  std::vector<float> a(2 * 3 * 4 * 5), b(a.size());
  const TensorDesc out = testing::contiguous(DType::Float32, a, {2, 3, 4, 5});
  const TensorDesc in = channels_last(b, 2, 3, 4, 5);
  const StridedLayout<2> l = coalesce<2>({&out, &in}, /*memory_order=*/true);
  EXPECT_EQ(l.strides[0][l.ndim - 1], 4);  // the output is written contiguously
}

TEST(StridedLoop, BinaryOnChannelsLastMatchesElementByElement) {
  const std::int64_t n = 2, c = 3, h = 4, w = 5;
  std::vector<float> a(n * c * h * w), b(a.size()), out(a.size(), -1.0f);
  std::iota(a.begin(), a.end(), 0.0f);
  std::iota(b.begin(), b.end(), 1000.0f);
  // a in channels last, b and out contiguous: out[i] = a[i] + b[i] at every logical index.
  const TensorDesc x = channels_last(a, n, c, h, w);
  const TensorDesc y = testing::contiguous(DType::Float32, b, {n, c, h, w});
  const TensorDesc z = testing::contiguous(DType::Float32, out, {n, c, h, w});
  binary(BinaryOp::Add, z, x, y, 1.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j)
      for (std::int64_t k = 0; k < h; ++k)
        for (std::int64_t l = 0; l < w; ++l) {
          const std::int64_t logical = ((i * c + j) * h + k) * w + l;
          const std::int64_t stored = ((i * h + k) * w + l) * c + j;
          EXPECT_EQ(out[logical], a[stored] + b[logical]);
        }
}

}  // namespace
}  // namespace mlu::kernels
