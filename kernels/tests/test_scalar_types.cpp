// The 16-bit float conversions against the compiler's own _Float16 (correctly rounded) on every
// half value and on floats around every rounding boundary.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "convert_block.h"
#include "desc.h"
#include "mlu_kernels/copy.h"
#include "scalar_types.h"

namespace mlu::kernels {
namespace {

std::uint16_t reference_half_bits(float f) {
  return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
}

TEST(HalfConversion, EveryHalfWidensExactly) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float expected = static_cast<float>(std::bit_cast<_Float16>(h));
    const float got = to_float(Half{h});
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << bits;
    } else {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(expected))
          << std::hex << bits;
    }
  }
}

// Each half value, the midpoints on both sides of it and their float neighbours, both signs:
// every rounding decision, including ties, subnormals and overflow to infinity.
std::vector<float> rounding_cases() {
  std::vector<float> cases;
  for (std::uint32_t bits = 0; bits < 0x7c00; ++bits) {
    const float v = to_float(Half{static_cast<std::uint16_t>(bits)});
    const float next =
        bits + 1 < 0x7c00 ? to_float(Half{static_cast<std::uint16_t>(bits + 1)}) : 65536.0f;
    const float mid = v + (next - v) / 2;
    for (float f : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      cases.push_back(f);
      cases.push_back(-f);
    }
  }
  return cases;
}

TEST(HalfConversion, NarrowingRoundsToNearestEven) {
  for (float s : rounding_cases()) ASSERT_EQ(to_half(s).bits, reference_half_bits(s)) << s;
  for (float f : {1e-30f, 1e30f, INFINITY, -INFINITY, 70000.0f}) {
    EXPECT_EQ(to_half(f).bits, reference_half_bits(f)) << f;
  }
  EXPECT_TRUE(std::isnan(to_float(to_half(NAN))));
}

// The block conversions (vector instructions, then a scalar tail) agree with the scalar ones on
// every half value and every rounding decision; lengths leave tails of each width. Both as
// compiled here and through copy(), in the library variant loaded (AVX-512 where present).
void widen(bool through_copy, std::vector<float>& out, std::vector<Half>& in) {
  const auto n = static_cast<std::int64_t>(in.size());
  if (!through_copy) return convert_block(out.data(), in.data(), n);
  copy(testing::contiguous(DType::Float32, out, {n}), testing::contiguous(DType::Float16, in, {n}));
}

void narrow(bool through_copy, std::vector<Half>& out, std::vector<float>& in, std::int64_t n) {
  if (!through_copy) return convert_block(out.data(), in.data(), n);
  copy(testing::contiguous(DType::Float16, out, {n}), testing::contiguous(DType::Float32, in, {n}));
}

class HalfBlocks : public ::testing::TestWithParam<bool> {};

TEST_P(HalfBlocks, MatchTheScalarConversions) {
  std::vector<Half> halves;
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    halves.push_back(Half{static_cast<std::uint16_t>(bits)});
  }
  halves.resize(halves.size() + 13, Half{0x3c00});
  std::vector<float> widened(halves.size());
  widen(GetParam(), widened, halves);
  for (std::size_t i = 0; i < halves.size(); ++i) {
    const float expected = to_float(halves[i]);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(widened[i])) << i;
    } else {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(widened[i]), std::bit_cast<std::uint32_t>(expected))
          << i;
    }
  }
  std::vector<float> floats{1e-30f, 1e30f, INFINITY, -INFINITY, 70000.0f, 65519.99f, 65520.0f, NAN};
  for (float f : rounding_cases()) floats.push_back(f);
  for (std::int64_t n : {std::int64_t{0}, std::int64_t{7}, std::int64_t{15},
                         static_cast<std::int64_t>(floats.size())}) {
    std::vector<Half> narrowed(static_cast<std::size_t>(n), Half{0x1234});
    narrow(GetParam(), narrowed, floats, n);
    for (std::int64_t i = 0; i < n; ++i) {
      const float f = floats[static_cast<std::size_t>(i)];
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(to_float(narrowed[i]))) << i;
      } else {
        ASSERT_EQ(narrowed[i].bits, to_half(f).bits) << f;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HalfConversion, HalfBlocks, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ThroughCopy" : "Inline"; });

TEST(BFloat16Conversion, RoundsToNearestEvenAndKeepsNaN) {
  EXPECT_EQ(to_bfloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_bfloat16(std::bit_cast<float>(0x3f808000u)).bits, 0x3f80);  // tie to even
  EXPECT_EQ(to_bfloat16(std::bit_cast<float>(0x3f818000u)).bits, 0x3f82);  // tie to even
  EXPECT_EQ(to_bfloat16(std::bit_cast<float>(0x3f808001u)).bits, 0x3f81);
  EXPECT_TRUE(std::isnan(to_float(to_bfloat16(NAN))));
  EXPECT_EQ(to_float(BFloat16{0xc040}), -3.0f);
}

// The bfloat16 rounding blocks (AVX-512F, AVX2, then the scalar tail; the tests run on the base
// build too, so an AVX-512 machine checks the AVX2 loop) agree with to_bfloat16 bit for bit:
// every bfloat16 value with its tie and the floats either side of it (so overflow to infinity,
// subnormals, both signs, NaN payloads); lengths leave tails of each width.
TEST(BFloat16Conversion, BlocksMatchTheScalarRounding) {
  std::vector<float> floats{1e-40f, -1e-45f, 3.3895e38f, 3.4e38f, INFINITY, -INFINITY, NAN, -NAN};
  for (std::uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x7f7f8000u, 0x00008000u,
                             0x7fc00001u, 0xff800001u}) {
    floats.push_back(std::bit_cast<float>(bits));
  }
  for (std::uint32_t high = 0; high <= 0xffff; ++high) {  // each bfloat16, its tie and neighbours
    for (std::uint32_t low : {0x0000u, 0x7fffu, 0x8000u, 0x8001u}) {
      floats.push_back(std::bit_cast<float>(high << 16 | low));
    }
  }
  for (std::int64_t n :
       {std::int64_t{0}, std::int64_t{7}, std::int64_t{15}, std::int64_t{24}, std::int64_t{25},
        std::int64_t{31}, static_cast<std::int64_t>(floats.size())}) {
    std::vector<BFloat16> out(static_cast<std::size_t>(n), BFloat16{0x1234});
    convert_block(out.data(), floats.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i].bits, to_bfloat16(floats[static_cast<std::size_t>(i)]).bits)
          << i << " of " << n;
    }
  }
}

TEST(Convert, BoolAndIntegerSemantics) {
  EXPECT_TRUE(convert<bool>(Half{0x3c00}));
  EXPECT_FALSE(convert<bool>(Half{0x8000}));  // -0
  EXPECT_EQ(convert<std::int32_t>(Half{0xc500}), -5);
  EXPECT_EQ(convert<Half>(std::int64_t{2048}).bits, 0x6800);
}

}  // namespace
}  // namespace mlu::kernels
