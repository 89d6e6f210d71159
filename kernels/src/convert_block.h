// Contiguous runs of float16 converted to and from float with the processor's conversion
// instructions (F16C, AVX-512F: one instruction per 8 or 16 elements), where scalar_types.h's
// conversions take one per element. The compiler does not vectorise _Float16 conversions without
// AVX512-FP16, hence the intrinsics. Widening bfloat16 is a shift, which vectorises; its rounding
// is written out with integer vectors (AVX2: 1M floats 172-192 -> 126-135 us), as AVX512-BF16's
// instruction flushes subnormals to zero.
#pragma once

#include <cstdint>

#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "scalar_types.h"

namespace mlu::kernels {

inline void convert_block(float* out, const Half* in, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(h));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) out[i] = to_float(in[i]);
}

inline void convert_block(float* out, const BFloat16* in, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = to_float(in[i]);
}

// Rounds to nearest even, as to_half; a NaN keeps the top of its payload (to_half's is 0x200).
inline void convert_block(Half* out, const float* in, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__F16C__)
  constexpr int kRounding = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(in + i), kRounding);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), h);
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), kRounding);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
#endif
  for (; i < n; ++i) out[i] = to_half(in[i]);
}

// Rounds to nearest even, as to_bfloat16; a NaN becomes to_bfloat16's quiet NaN.
inline void convert_block(BFloat16* out, const float* in, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__AVX512F__)
  const __m512i one16 = _mm512_set1_epi32(1), half16 = _mm512_set1_epi32(0x7fff),
                quiet_nan16 = _mm512_set1_epi32(0x7fc0);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(in + i);
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one16);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, half16), lsb), 16);
    r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), quiet_nan16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(r));
  }
#endif
#if defined(__AVX2__)
  const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7fff),
                quiet_nan = _mm256_set1_epi32(0x7fc0);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(in + i);
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, half), lsb), 16);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    r = _mm256_blendv_epi8(r, quiet_nan, _mm256_castps_si256(nan));
    // The 16-bit halves of both 128-bit lanes, packed (values fit: unsigned saturation is exact).
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0b1000);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(packed));
  }
#endif
  for (; i < n; ++i) out[i] = to_bfloat16(in[i]);
}

}  // namespace mlu::kernels
