#include "mlu_kernels/softmax.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const Softmax& op) {
  launch(queue, op, [](Softmax& o) { k::softmax(o.out, o.in, o.dim, false); });
}
void enqueue(Queue* queue, const LogSoftmax& op) {
  launch(queue, op, [](LogSoftmax& o) { k::softmax(o.out, o.in, o.dim, true); });
}
void enqueue(Queue* queue, const SoftmaxBackward& op) {
  launch(queue, op, [](SoftmaxBackward& o) {
    k::softmax_backward(o.grad_in, o.grad_out, o.output, o.dim, false);
  });
}
void enqueue(Queue* queue, const LogSoftmaxBackward& op) {
  launch(queue, op, [](LogSoftmaxBackward& o) {
    k::softmax_backward(o.grad_in, o.grad_out, o.output, o.dim, true);
  });
}

}  // namespace mlu::hal
