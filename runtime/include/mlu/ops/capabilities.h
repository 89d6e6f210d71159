// What the device's operations can do: the integration asks instead of assuming.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlu/ops/tensor_desc.h"

namespace mlu::hal {

struct OperationsInfo {
  // The build of the operations running here (on the software MLU, the -march value of the
  // kernel library's variant the loader picked) and the instruction-set extensions it uses.
  std::string implementation;
  std::vector<std::string> instruction_sets;
  int threads = 0;  // cores one operation may use
  // How 16-bit matrix products and convolutions compute: "oneDNN" (16-bit operands on 16-bit
  // matrix instructions) or "float32" (widened); the convolution policy is MLU_CONV16's.
  std::string matmul_bfloat16, matmul_float16, conv16_policy;
  // The 16-bit convolution shapes (per pass) planned so far in this process, by how they compute.
  std::int64_t conv_bfloat16_in_16_bits = 0, conv_bfloat16_widened = 0;
  std::int64_t conv_float16_in_16_bits = 0, conv_float16_widened = 0;
  // MLU_CONV_GEMM's policy for convolutions without groups (16-bit ones on float32 copies): where
  // they run as matrix products on the input's patches instead of oneDNN's direct convolution.
  std::string conv_gemm_policy;
  // How float32 matrix products compute: "oneDNN" (its brgemm kernels, from 2^18 multiply-adds)
  // or "OpenBLAS" (all of them).
  std::string matmul_float32;
  // How a float32 LSTM layer asked for 16-bit products (LstmLayer::products) computes them:
  // "AMX" (16-bit operands, float32 accumulation) or "float32".
  std::string lstm_bfloat16, lstm_float16;
  // How attention with 16-bit operands multiplies: "AMX" (16-bit operands, float32 accumulation,
  // the softmax weights rounded to the operands' dtype) or "float32" (widened).
  std::string attention_bfloat16, attention_float16;
};
OperationsInfo operations_info();

// The dtypes operations take, as a bit per DType (bit i: DType(i)).
std::uint32_t supported_dtypes();
inline bool supports(DType dtype) {
  return (supported_dtypes() >> static_cast<unsigned>(dtype)) & 1u;
}

// Whether the device runs the operations of this name (an operation's `name`; several operation
// types may share one, such as "binary"). A driver may lack some; the integration then raises
// NotImplementedError naming the operation instead of launching it. The software MLU implements
// them all and reports those MLU_UNSUPPORTED_OPERATIONS lists as missing (names separated by
// commas), so that a port's gaps can be rehearsed.
bool supports_operation(const char* name);

// Reads the operations' settings (environment variables) strictly: throws std::invalid_argument
// naming a variable whose value is invalid (the operations themselves fall back to defaults).
void check_operation_settings();

}  // namespace mlu::hal
