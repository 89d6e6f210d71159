// What the kernel library was compiled for, for reports (python -m torch_mlu doctor).
#pragma once

#include <string>
#include <vector>

namespace mlu::kernels {

// The x86-64 instruction-set extensions the kernels were compiled to use (-march), e.g. "AVX2",
// "AVX-512F", "AVX512-BF16", "AMX-TILE"; empty for the baseline.
std::vector<std::string> compiled_instruction_sets();

}  // namespace mlu::kernels
