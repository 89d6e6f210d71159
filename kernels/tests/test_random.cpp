// Philox4x32-10 against the known answers of its authors' Random123 suite, the batched blocks
// against the one-at-a-time function, and dropout's batched and block-by-block draws against each
// other.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "desc.h"
#include "mlu_kernels/random.h"

namespace mlu::kernels {
namespace {

using Block = std::array<std::uint32_t, 4>;

TEST(Philox, KnownAnswers) {
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (Block{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (Block{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (Block{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, BatchMatchesOneBlockAtATime) {
  const std::array<std::uint32_t, 2> key{0x12345678, 0x9abcdef0};
  // The second batch carries the counter's low word into its high word.
  for (const std::uint64_t first : {std::uint64_t{0}, std::uint64_t{0xfffffff8}}) {
    std::array<std::uint32_t, 4 * kPhiloxBatch> words{};
    philox4x32_batch(first, key, words);
    for (int l = 0; l < kPhiloxBatch; ++l) {
      const std::uint64_t counter = first + l;
      const Block expected = philox4x32(
          {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0, 0},
          key);
      EXPECT_EQ((Block{words[4 * l], words[4 * l + 1], words[4 * l + 2], words[4 * l + 3]}),
                expected)
          << "lane " << l << " of the batch from " << first;
    }
  }
}

// A [rows, cols] descriptor over data with the given strides.
template <typename T>
TensorDesc matrix(DType dtype, std::vector<T>& data, std::int64_t rows, std::int64_t cols,
                  std::int64_t row_stride, std::int64_t col_stride) {
  TensorDesc d = testing::contiguous(dtype, data, {rows, cols});
  d.strides[0] = row_stride;
  d.strides[1] = col_stride;
  return d;
}

TEST(Dropout, ColumnMajorRunsDrawWhatRowMajorRunsDraw) {
  // Row-major operands give runs of 200 elements, whose blocks are computed in batches; the
  // column-major ones runs of a single element, whose blocks are computed one at a time.
  constexpr std::int64_t kRows = 37, kCols = 200;
  std::vector<float> in(kRows * kCols), out_rows(in.size()), out_cols(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = 1.0f + static_cast<float>(i % 7);
  std::vector<std::uint8_t> mask_rows(in.size()), mask_cols(in.size());
  const PhiloxState state{.seed = 42, .offset = 3};
  dropout(matrix(DType::Float32, out_rows, kRows, kCols, kCols, 1),
          matrix(DType::Bool, mask_rows, kRows, kCols, kCols, 1),
          matrix(DType::Float32, in, kRows, kCols, kCols, 1), state, 0.3);
  // The same logical input, stored column-major.
  std::vector<float> in_cols(in.size());
  for (std::int64_t r = 0; r < kRows; ++r)
    for (std::int64_t c = 0; c < kCols; ++c) in_cols[c * kRows + r] = in[r * kCols + c];
  dropout(matrix(DType::Float32, out_cols, kRows, kCols, 1, kRows),
          matrix(DType::Bool, mask_cols, kRows, kCols, 1, kRows),
          matrix(DType::Float32, in_cols, kRows, kCols, 1, kRows), state, 0.3);
  std::int64_t kept = 0;
  for (std::int64_t r = 0; r < kRows; ++r) {
    for (std::int64_t c = 0; c < kCols; ++c) {
      const std::int64_t i = r * kCols + c, j = c * kRows + r;
      ASSERT_EQ(mask_rows[i], mask_cols[j]) << "element " << r << ", " << c;
      ASSERT_EQ(out_rows[i], out_cols[j]) << "element " << r << ", " << c;
      ASSERT_EQ(out_rows[i], mask_rows[i] ? in[i] * static_cast<float>(1 / (1 - 0.3)) : 0.0f);
      kept += mask_rows[i];
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / (kRows * kCols), 0.7, 0.03);
}

}  // namespace
}  // namespace mlu::kernels
