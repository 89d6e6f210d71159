#include "mlu_kernels/elementwise.h"

#include "launch.h"
#include "multi_tensor.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::address_or_null;
using software::launch;
using software::launch_multi_tensor;
using software::operand_lists;

void enqueue(Queue* queue, const Unary& op) {
  launch(queue, op, [](Unary& o) { k::unary(o.op, o.out, o.in, o.param); });
}
void enqueue(Queue* queue, const Binary& op) {
  launch(queue, op, [](Binary& o) { k::binary(o.op, o.out, o.a.bind(), o.b.bind(), o.alpha); });
}
void enqueue(Queue* queue, const BinaryScalar& op) {
  launch(queue, op,
         [](BinaryScalar& o) { k::binary_scalar(o.op, o.out, o.a.bind(), o.b, o.alpha); });
}
void enqueue(Queue* queue, const Ternary& op) {
  launch(queue, op,
         [](Ternary& o) { k::ternary(o.op, o.out, o.a.bind(), o.b.bind(), o.c.bind(), o.value); });
}
void enqueue(Queue* queue, const LerpScalar& op) {
  launch(queue, op, [](LerpScalar& o) { k::lerp_scalar(o.out, o.a.bind(), o.b.bind(), o.weight); });
}
void enqueue(Queue* queue, const Compare& op) {
  launch(queue, op, [](Compare& o) { k::compare(o.op, o.out, o.a.bind(), o.b.bind()); });
}
void enqueue(Queue* queue, const Where& op) {
  launch(queue, op, [](Where& o) { k::where(o.out, o.cond.bind(), o.a.bind(), o.b.bind()); });
}
void enqueue(Queue* queue, const Clamp& op) {
  launch(queue, op,
         [](Clamp& o) { k::clamp(o.out, o.in, address_or_null(o.lo), address_or_null(o.hi)); });
}
void enqueue(Queue* queue, const LogSigmoid& op) {
  launch(queue, op, [](LogSigmoid& o) { k::unary(UnaryOp::LogSigmoid, o.out, o.in); });
}
void enqueue(Queue* queue, const LogSigmoidBackward& op) {
  launch(queue, op, [](LogSigmoidBackward& o) {
    k::binary(BinaryOp::LogSigmoidBackward, o.out, o.grad.bind(), o.x.bind());
  });
}
void enqueue(Queue* queue, const Elu& op) {
  launch(queue, op, [](Elu& o) { k::elu(o.out, o.in, o.alpha, o.scale, o.input_scale); });
}
void enqueue(Queue* queue, const EluBackward& op) {
  launch(queue, op, [](EluBackward& o) {
    k::elu_backward(o.grad_in, o.grad_out, o.x, o.alpha, o.scale, o.input_scale, o.x_is_result);
  });
}
void enqueue(Queue* queue, const Softplus& op) {
  launch(queue, op, [](Softplus& o) { k::softplus(o.out, o.in, o.beta, o.threshold); });
}
void enqueue(Queue* queue, const SoftplusBackward& op) {
  launch(queue, op, [](SoftplusBackward& o) {
    k::softplus_backward(o.grad_in, o.grad_out, o.x, o.beta, o.threshold);
  });
}
void enqueue(Queue* queue, const HardtanhBackward& op) {
  launch(queue, op, [](HardtanhBackward& o) {
    k::hardtanh_backward(o.grad_in, o.grad_out, o.x, o.min, o.max);
  });
}

void enqueue(Queue* queue, const ForeachBinaryScalar& op) {
  launch_multi_tensor(queue, op.name,
                      {operand_lists(op.out, op.a),
                       [kind = op.op, numbers = op.numbers](const TensorDesc* d, std::size_t i) {
                         k::binary_scalar(kind, d[0], d[1], numbers[i]);
                       }});
}
void enqueue(Queue* queue, const ForeachBinary& op) {
  launch_multi_tensor(queue, op.name,
                      {operand_lists(op.out, op.a, op.b),
                       [kind = op.op, alpha = op.alpha](const TensorDesc* d, std::size_t) {
                         k::binary(kind, d[0], d[1], d[2], alpha);
                       }});
}
void enqueue(Queue* queue, const ForeachMulTensor& op) {
  launch_multi_tensor(queue, op.name,
                      {operand_lists(op.self),
                       [factor = op.factor](const TensorDesc* d, std::size_t) {
                         TensorDesc broadcast = factor;
                         broadcast.ndim = d[0].ndim;
                         for (int i = 0; i < d[0].ndim; ++i)
                           broadcast.sizes[i] = d[0].sizes[i], broadcast.strides[i] = 0;
                         k::binary(BinaryOp::Mul, d[0], d[0], broadcast);
                       },
                       {op.factor}});
}
void enqueue(Queue* queue, const ForeachUnary& op) {
  launch_multi_tensor(
      queue, op.name,
      {operand_lists(op.out, op.in),
       [kind = op.op](const TensorDesc* d, std::size_t) { k::unary(kind, d[0], d[1]); }});
}
void enqueue(Queue* queue, const ForeachLerpScalar& op) {
  launch_multi_tensor(
      queue, op.name,
      {operand_lists(op.a, op.b), [weight = op.weight](const TensorDesc* d, std::size_t) {
         k::lerp_scalar(d[0], d[0], d[1], weight);
       }});
}
void enqueue(Queue* queue, const ForeachTernary& op) {
  launch_multi_tensor(queue, op.name,
                      {operand_lists(op.a, op.b, op.c),
                       [kind = op.op, values = op.values](const TensorDesc* d, std::size_t i) {
                         k::ternary(kind, d[0], d[0], d[1], d[2], values[i]);
                       }});
}

}  // namespace mlu::hal
