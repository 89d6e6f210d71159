#include "mlu_kernels/pad.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const Pad& op) {
  launch(queue, op, [](Pad& o) { k::pad(o.mode, o.out, o.in, o.pad_before); });
}
void enqueue(Queue* queue, const PadBackward& op) {
  launch(queue, op,
         [](PadBackward& o) { k::pad_backward(o.mode, o.grad_in, o.grad_out, o.pad_before); });
}

}  // namespace mlu::hal
