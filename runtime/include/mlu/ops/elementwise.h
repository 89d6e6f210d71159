// Elementwise operations. Operands have out's shape (broadcast sources use stride 0) and, unless
// stated, out's dtype; float16 and bfloat16 compute in float32. The foreach forms run one
// operation over lists of tensors as one unit of device work (the optimizers' multi-tensor path).
#pragma once

#include <optional>
#include <vector>

#include "mlu/ops/operand.h"

namespace mlu::hal {

enum class UnaryOp {
  Neg,
  Abs,
  Exp,
  Log,
  Log1p,
  Log2,
  Log10,
  Expm1,
  Sqrt,
  Rsqrt,
  Reciprocal,
  Sin,
  Cos,
  Tanh,
  Sigmoid,
  Erf,
  Relu,
  Gelu,
  GeluTanh,
  Silu,
  Mish,
  Hardswish,
  Hardsigmoid,
  Sign,
  Floor,
  Ceil,
  Round,
  Trunc,
  LogicalNot,
  BitwiseNot,
  LogSigmoid,
  // With a parameter:
  LeakyRelu,  // param: negative slope
  PowScalar,  // x ** param
  ClampMin,   // max(x, param)
  ClampMax,   // min(x, param)
};

enum class BinaryOp {
  Add,  // a + alpha * b
  Sub,  // a - alpha * b
  Mul,
  Div,
  Maximum,
  Minimum,
  Pow,
  Remainder,
  Fmod,         // truncated remainder: the sign of the dividend
  FloorDivide,  // rounded towards -inf (floats as PyTorch CPU: through fmod, exact)
  TruncDivide,  // rounded towards zero
  Atan2,
  BitwiseAnd,
  BitwiseOr,
  BitwiseXor,
  LogicalAnd,
  LogicalOr,
  // Gradients: a is the incoming gradient, b the saved tensor.
  ThresholdBackward,  // b <= alpha ? 0 : a   (relu backward, b = input or result)
  SigmoidBackward,    // a * b * (1 - b)      (b = sigmoid output)
  TanhBackward,       // a * (1 - b * b)      (b = tanh output)
  GeluBackward,
  GeluTanhBackward,
  SiluBackward,
  MishBackward,
  HardswishBackward,
  HardsigmoidBackward,
  LeakyReluBackward,   // alpha: negative slope; b = input
  LogSigmoidBackward,  // b = input
};

enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };

enum class TernaryOp {
  AddCMul,  // a + value * b * c
  AddCDiv,  // a + value * b / c
  Lerp,     // a + c * (b - a)
};

struct Unary {
  static constexpr const char* name = "unary";
  UnaryOp op;
  TensorDesc out, in;
  double param = 0;
};
struct Binary {
  static constexpr const char* name = "binary";
  BinaryOp op;
  TensorDesc out;
  Operand a, b;
  double alpha = 1;
};
// b a number rather than a tensor, converted to the compute type (float for the 16-bit types)
// instead of out's dtype: PyTorch CPU's semantics for Python-number factors and divisors.
struct BinaryScalar {
  static constexpr const char* name = "binary";
  BinaryOp op;
  TensorDesc out;
  Operand a;
  double b;
  double alpha = 1;
};
struct Ternary {
  static constexpr const char* name = "ternary";
  TernaryOp op;
  TensorDesc out;
  Operand a, b, c;
  double value = 1;
};
// a + weight * (b - a) in PyTorch's form, exact at both ends; the weight is a number in the
// compute type (as PyTorch CPU keeps a Python-number weight), floating types only.
struct LerpScalar {
  static constexpr const char* name = "lerp";
  TensorDesc out;
  Operand a, b;
  double weight;
};
// out is bool; a and b share a dtype.
struct Compare {
  static constexpr const char* name = "compare";
  CompareOp op;
  TensorDesc out;
  Operand a, b;
};
// out = cond ? a : b; cond is bool.
struct Where {
  static constexpr const char* name = "where";
  TensorDesc out;
  Operand cond, a, b;
};
// out = clamp(in, lo, hi), either bound optional.
struct Clamp {
  static constexpr const char* name = "clamp";
  TensorDesc out, in;
  std::optional<double> lo, hi;
};

// log(sigmoid(x)) and its gradient (grad is the incoming gradient, x the input).
struct LogSigmoid {
  static constexpr const char* name = "log_sigmoid";
  TensorDesc out, in;
};
struct LogSigmoidBackward {
  static constexpr const char* name = "log_sigmoid_backward";
  TensorDesc out;
  Operand grad, x;
};

// Activations with several parameters, as PyTorch defines them (floating types). elu: x > 0 ?
// scale * x : scale * alpha * (exp(input_scale * x) - 1) (also celu and selu).
struct Elu {
  static constexpr const char* name = "elu";
  TensorDesc out, in;
  double alpha, scale, input_scale;
};
// x is the input, or the result when x_is_result.
struct EluBackward {
  static constexpr const char* name = "elu_backward";
  TensorDesc grad_in, grad_out, x;
  double alpha, scale, input_scale;
  bool x_is_result;
};
// beta * x > threshold ? x : log1p(exp(beta * x)) / beta.
struct Softplus {
  static constexpr const char* name = "softplus";
  TensorDesc out, in;
  double beta, threshold;
};
struct SoftplusBackward {
  static constexpr const char* name = "softplus_backward";
  TensorDesc grad_in, grad_out, x;
  double beta, threshold;
};
// hardtanh's gradient: 0 where x <= min or x >= max.
struct HardtanhBackward {
  static constexpr const char* name = "hardtanh_backward";
  TensorDesc grad_in, grad_out, x;
  double min, max;
};

// out[i] = a[i] op numbers[i] (BinaryScalar's semantics).
struct ForeachBinaryScalar {
  static constexpr const char* name = "foreach_binary";
  BinaryOp op;
  std::vector<TensorDesc> out, a;
  std::vector<double> numbers;
};
// out[i] = a[i] op b[i] (with alpha), or a[i] op b where b is one tensor broadcast to each a[i].
struct ForeachBinary {
  static constexpr const char* name = "foreach_binary";
  BinaryOp op;
  std::vector<TensorDesc> out, a, b;
  double alpha = 1;
};
struct ForeachMulTensor {
  static constexpr const char* name = "foreach_binary";
  std::vector<TensorDesc> self;  // multiplied in place
  TensorDesc factor;             // a 0-d tensor
};
struct ForeachUnary {
  static constexpr const char* name = "foreach_unary";
  UnaryOp op;
  std::vector<TensorDesc> out, in;
};
// a[i] = lerp(a[i], b[i], weight) in place.
struct ForeachLerpScalar {
  static constexpr const char* name = "foreach_lerp";
  std::vector<TensorDesc> a, b;
  double weight;
};
// a[i] = ternary(op, a[i], b[i], c[i], values[i]) in place.
struct ForeachTernary {
  static constexpr const char* name = "foreach_ternary";
  TernaryOp op;
  std::vector<TensorDesc> a, b, c;
  std::vector<double> values;
};

void enqueue(Queue* queue, const Unary& op);
void enqueue(Queue* queue, const Binary& op);
void enqueue(Queue* queue, const BinaryScalar& op);
void enqueue(Queue* queue, const Ternary& op);
void enqueue(Queue* queue, const LerpScalar& op);
void enqueue(Queue* queue, const Compare& op);
void enqueue(Queue* queue, const Where& op);
void enqueue(Queue* queue, const Clamp& op);
void enqueue(Queue* queue, const LogSigmoid& op);
void enqueue(Queue* queue, const LogSigmoidBackward& op);
void enqueue(Queue* queue, const Elu& op);
void enqueue(Queue* queue, const EluBackward& op);
void enqueue(Queue* queue, const Softplus& op);
void enqueue(Queue* queue, const SoftplusBackward& op);
void enqueue(Queue* queue, const HardtanhBackward& op);
void enqueue(Queue* queue, const ForeachBinaryScalar& op);
void enqueue(Queue* queue, const ForeachBinary& op);
void enqueue(Queue* queue, const ForeachMulTensor& op);
void enqueue(Queue* queue, const ForeachUnary& op);
void enqueue(Queue* queue, const ForeachLerpScalar& op);
void enqueue(Queue* queue, const ForeachTernary& op);

}  // namespace mlu::hal
