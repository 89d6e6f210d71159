#include "mlu_kernels/copy.h"

#include "launch.h"

namespace mlu::hal {

void enqueue(Queue* queue, const Copy& op) {
  software::launch(queue, op, [](Copy& o) { kernels::copy(o.dst, o.src.bind()); });
}
void enqueue(Queue* queue, const Flip& op) {
  software::launch(queue, op, [](Flip& o) { kernels::copy(o.dst, o.src.bind()); });
}
void enqueue(Queue* queue, const Roll& op) {
  software::launch(queue, op, [](Roll& o) {
    for (std::size_t i = 0; i < o.dst.size(); ++i) kernels::copy(o.dst[i], o.src[i]);
  });
}
void enqueue(Queue* queue, const Fill& op) {
  software::launch(queue, op, [](Fill& o) { kernels::copy(o.dst, o.value.bind()); });
}

}  // namespace mlu::hal
