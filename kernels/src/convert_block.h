// Contiguous runs of float16 converted to and from float with the processor's conversion
// instructions (F16C, AVX-512F: one instruction per 8 or 16 elements), where the scalar integer
// conversions of scalar_types.h take about 25 operations per element. The compiler does not
// vectorise _Float16 conversions without AVX512-FP16, hence the intrinsics. (Bfloat16 needs none:
// its scalar conversions vectorise, and AVX512-BF16's instruction flushes subnormals to zero.)
#pragma once

#include <cstdint>

#if defined(__F16C__)
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

}  // namespace mlu::kernels
