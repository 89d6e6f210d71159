#include "mlu_kernels/pool.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const MaxPool& op) {
  launch(queue, op, [](MaxPool& o) { k::max_pool(o.params, o.out, o.indices, o.in); });
}
void enqueue(Queue* queue, const AvgPool& op) {
  launch(queue, op, [](AvgPool& o) { k::avg_pool(o.params, o.out, o.in); });
}
void enqueue(Queue* queue, const AvgPoolBackward& op) {
  launch(queue, op,
         [](AvgPoolBackward& o) { k::avg_pool_backward(o.params, o.grad_in, o.grad_out); });
}
void enqueue(Queue* queue, const AdaptiveMaxPool& op) {
  launch(queue, op, [](AdaptiveMaxPool& o) { k::adaptive_max_pool(o.out, o.indices, o.in); });
}
void enqueue(Queue* queue, const AdaptiveAvgPool& op) {
  launch(queue, op, [](AdaptiveAvgPool& o) { k::adaptive_avg_pool(o.out, o.in); });
}
void enqueue(Queue* queue, const AdaptiveAvgPoolBackward& op) {
  launch(queue, op,
         [](AdaptiveAvgPoolBackward& o) { k::adaptive_avg_pool_backward(o.grad_in, o.grad_out); });
}
void enqueue(Queue* queue, const MaxPoolBackward& op) {
  launch(queue, op,
         [](MaxPoolBackward& o) { k::max_pool_backward(o.grad_in, o.grad_out, o.indices); });
}

}  // namespace mlu::hal
