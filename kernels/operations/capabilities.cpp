#include "mlu/ops/capabilities.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

#include "mlu_kernels/build_info.h"
#include "mlu_kernels/conv.h"
#include "mlu_kernels/parallel.h"

namespace mlu::hal {

namespace k = mlu::kernels;

OperationsInfo operations_info() {
  const k::Conv16Plans conv = k::conv16_plans();
  return {k::compiled_target(),
          k::compiled_instruction_sets(),
          k::kernel_threads(),
          k::gemm16_path(true),
          k::gemm16_path(false),
          k::conv16_policy_from_environment(),
          conv.bfloat16_in_16_bits,
          conv.bfloat16_widened,
          conv.float16_in_16_bits,
          conv.float16_widened,
          k::conv_gemm_policy_from_environment(),
          k::gemm32_path(),
          k::lstm16_path(true),
          k::lstm16_path(false),
          k::attention16_path(true),
          k::attention16_path(false)};
}

std::uint32_t supported_dtypes() {
  // The kernel library takes every dtype of the descriptors (complex numbers as interleaved
  // pairs of their real type).
  return (1u << (static_cast<unsigned>(DType::Bool) + 1)) - 1;
}

namespace {

// MLU_UNSUPPORTED_OPERATIONS: operation names separated by commas.
std::set<std::string> unsupported_from_environment() {
  std::set<std::string> names;
  const char* env = std::getenv("MLU_UNSUPPORTED_OPERATIONS");
  if (env == nullptr || *env == '\0') return names;
  const std::string list = env;
  for (std::size_t begin = 0;;) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    // Spaces around a name do not count ("fft_c2c, gemm"); inside one they do ("roi_align
    // backward").
    std::string name = list.substr(begin, end - begin);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_ ") != std::string::npos) {
      throw std::invalid_argument(
          "MLU_UNSUPPORTED_OPERATIONS must list operation names separated by commas (such as "
          "fft_c2c,gemm), got '" +
          list + "'");
    }
    names.insert(name);
    if (end == list.size()) return names;
    begin = end + 1;
  }
}

}  // namespace

bool supports_operation(const char* name) {
  static const std::set<std::string> unsupported = [] {
    try {
      return unsupported_from_environment();
    } catch (const std::invalid_argument&) {
      return std::set<std::string>{};  // reported by check_operation_settings
    }
  }();
  return !unsupported.contains(name);
}

void check_operation_settings() {
  k::kernel_threads_from_environment();
  k::conv16_policy_from_environment();
  k::conv_gemm_policy_from_environment();
  unsupported_from_environment();
}

}  // namespace mlu::hal
