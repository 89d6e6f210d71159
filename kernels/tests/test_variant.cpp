// The kernel library variant the dynamic loader chose (kernels/CMakeLists.txt): the best level
// built that this CPU has, or the one loaded first when a run forces it (MLU_KERNELS_EXPECTED).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "mlu_kernels/build_info.h"

namespace mlu::kernels {
namespace {

bool cpu_has(const std::string& level) {
  if (level == "native" || level == "x86-64") return true;
#if defined(__x86_64__)
  if (level == "x86-64-v2") return __builtin_cpu_supports("x86-64-v2");
  if (level == "x86-64-v3") return __builtin_cpu_supports("x86-64-v3");
  if (level == "x86-64-v4") return __builtin_cpu_supports("x86-64-v4");
#endif
  return false;
}

TEST(Variant, IsTheBestBuiltLevelThisCpuHasUnlessForced) {
  std::string expected;
  if (const char* forced = std::getenv("MLU_KERNELS_EXPECTED")) {
    expected = forced;
  } else {
    std::istringstream built(MLU_KERNELS_BUILT);  // "x86-64-v3 x86-64-v4": base first
    for (std::string level; built >> level;) {
      if (expected.empty() || cpu_has(level)) expected = level;
    }
  }
  EXPECT_EQ(compiled_target(), expected);
}

TEST(Variant, ReportsTheInstructionSetsOfItsLevel) {
  const auto sets = compiled_instruction_sets();
  auto has = [&](const char* name) {
    for (const auto& s : sets) {
      if (s == name) return true;
    }
    return false;
  };
  const std::string target = compiled_target();
  if (target == "x86-64-v3" || target == "x86-64-v4") {
    EXPECT_TRUE(has("AVX2") && has("FMA") && has("F16C"));
  }
  EXPECT_EQ(has("AVX-512F"), target == "x86-64-v4" || (target == "native" && cpu_has("x86-64-v4")));
}

}  // namespace
}  // namespace mlu::kernels
