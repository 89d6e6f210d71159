#include "mlu_kernels/copy.h"

#include "launch.h"

namespace mlu::hal {

void enqueue(Queue* queue, const Copy& op) {
  software::launch(queue, op, [](Copy& o) { kernels::copy(o.dst, o.src.bind()); });
}

}  // namespace mlu::hal
