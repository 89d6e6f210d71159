#include "mlu_kernels/build_info.h"

namespace mlu::kernels {

std::string compiled_target() { return MLU_KERNELS_TARGET; }

std::vector<std::string> compiled_instruction_sets() {
  std::vector<std::string> sets;
#ifdef __F16C__
  sets.emplace_back("F16C");
#endif
#ifdef __FMA__
  sets.emplace_back("FMA");
#endif
#ifdef __AVX2__
  sets.emplace_back("AVX2");
#endif
#ifdef __AVX512F__
  sets.emplace_back("AVX-512F");
#endif
#ifdef __AVX512BF16__
  sets.emplace_back("AVX512-BF16");
#endif
#ifdef __AVX512FP16__
  sets.emplace_back("AVX512-FP16");
#endif
#ifdef __AMX_TILE__
  sets.emplace_back("AMX-TILE");
#endif
  return sets;
}

}  // namespace mlu::kernels
