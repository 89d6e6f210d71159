#include "mlu_kernels/gemm.h"

#include "launch.h"

namespace mlu::hal {

using software::launch;

void enqueue(Queue* queue, const Gemm& op) {
  launch(queue, op, [](Gemm& o) { kernels::gemm(o.out, o.a, o.b, o.alpha, o.beta, o.epilogue); });
}
void enqueue(Queue* queue, const LinearAct& op) {
  launch(queue, op, [](LinearAct& o) { kernels::gemm(o.out, o.a, o.b, 1, 0, o.epilogue); });
}

}  // namespace mlu::hal
