#include "packed_product.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

// A tile is rows x two vectors of output held in registers while k runs: 16 of AVX-512's 32
// registers, 12 of AVX2's 16 (the rest hold the panel's row and a broadcast row element).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kMaxRows = 8;
#else
constexpr int kLanes = 8;
constexpr int kMaxRows = 6;
#endif
constexpr int kTile = 2 * kLanes;
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

[[gnu::always_inline]] inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int Rows>
void tile(const float* a, std::int64_t lda, const float* panel, std::int64_t k, float* out,
          std::int64_t ldo, int columns, bool accumulate) {
  Vec sum[Rows][2];
  for (int r = 0; r < Rows; ++r) sum[r][0] = sum[r][1] = Vec{};
  for (std::int64_t p = 0; p < k; ++p) {
    const Vec b0 = load(panel + p * kTile), b1 = load(panel + p * kTile + kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const float x = a[r * lda + p];
      sum[r][0] += x * b0;
      sum[r][1] += x * b1;
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float row[kTile];
    std::memcpy(row, sum[r], sizeof row);
    float* o = out + r * ldo;
    for (int j = 0; j < columns; ++j) o[j] = accumulate ? o[j] + row[j] : row[j];
  }
}

template <int... Rows>
void tile_of(int rows, std::integer_sequence<int, Rows...>, const float* a, std::int64_t lda,
             const float* panel, std::int64_t k, float* out, std::int64_t ldo, int columns,
             bool accumulate) {
  ((rows == Rows + 1 ? tile<Rows + 1>(a, lda, panel, k, out, ldo, columns, accumulate) : void()),
   ...);
}

}  // namespace

PackedRight::PackedRight(const float* b, std::int64_t k, std::int64_t n, std::int64_t ldb,
                         bool transposed)
    : k_(k), n_(n), panels_(((n + kTile - 1) / kTile) * k * kTile, 0.0f) {
  for (std::int64_t first = 0; first < n; first += kTile) {
    float* panel = panels_.data() + first * k;
    const std::int64_t columns = std::min<std::int64_t>(kTile, n - first);
    if (transposed) {  // b's rows are the panel's columns: read along them
      for (std::int64_t j = 0; j < columns; ++j) {
        const float* column = b + (first + j) * ldb;
        for (std::int64_t p = 0; p < k; ++p) panel[p * kTile + j] = column[p];
      }
    } else {
      for (std::int64_t p = 0; p < k; ++p)
        std::memcpy(panel + p * kTile, b + p * ldb + first, columns * sizeof(float));
    }
  }
}

void PackedRight::multiply(const float* a, std::int64_t lda, std::int64_t m, float* out,
                           std::int64_t ldo, bool accumulate) const {
  // The panels are split between the awake kernel threads, at least 4 each, for products of 2^18
  // multiply-adds and more (an LSTM(256, 256) layer's forward over 100 steps of 8 rows: 5.8-6.3 ms
  // on one thread, 5.1-5.4 split).
  const std::int64_t panels = (n_ + kTile - 1) / kTile;
  const std::int64_t slices = std::min<std::int64_t>(kernel_threads(), panels / 4);
  if (slices > 1 && m * k_ * n_ >= (1 << 18)) {
    parallel_for_awake(slices, [&](std::int64_t s, std::int64_t) {
      const std::int64_t p0 = panels * s / slices, p1 = panels * (s + 1) / slices;
      multiply_panels(a, lda, m, out, ldo, accumulate, p0 * kTile, std::min(n_, p1 * kTile));
    });
    return;
  }
  multiply_panels(a, lda, m, out, ldo, accumulate, 0, n_);
}

void PackedRight::multiply_panels(const float* a, std::int64_t lda, std::int64_t m, float* out,
                                  std::int64_t ldo, bool accumulate, std::int64_t begin,
                                  std::int64_t end) const {
  for (std::int64_t first = begin; first < end; first += kTile) {
    const float* panel = panels_.data() + first * k_;
    const int columns = static_cast<int>(std::min<std::int64_t>(kTile, end - first));
    for (std::int64_t row = 0; row < m; row += kMaxRows) {
      const int rows = static_cast<int>(std::min<std::int64_t>(kMaxRows, m - row));
      tile_of(rows, std::make_integer_sequence<int, kMaxRows>{}, a + row * lda, lda, panel, k_,
              out + row * ldo + first, ldo, columns, accumulate);
    }
  }
}

}  // namespace mlu::kernels
