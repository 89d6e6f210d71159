#include "mlu_kernels/shape.h"

#include "launch.h"
#include "mlu_kernels/range.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const Cat& op) {
  launch(queue, op, [](Cat& o) { k::cat(o.out, o.inputs, o.dim); });
}
void enqueue(Queue* queue, const Tril& op) {
  launch(queue, op, [](Tril& o) { k::triangle(o.out, o.in, o.diagonal, false); });
}
void enqueue(Queue* queue, const Triu& op) {
  launch(queue, op, [](Triu& o) { k::triangle(o.out, o.in, o.diagonal, true); });
}
void enqueue(Queue* queue, const TrilIndices& op) {
  launch(queue, op, [](TrilIndices& o) { k::triangle_indices(o.out, o.col, o.offset, false); });
}
void enqueue(Queue* queue, const TriuIndices& op) {
  launch(queue, op, [](TriuIndices& o) { k::triangle_indices(o.out, o.col, o.offset, true); });
}
void enqueue(Queue* queue, const Arange& op) {
  launch(queue, op, [](Arange& o) { k::arange(o.out, o.start, o.step); });
}
void enqueue(Queue* queue, const ArangeIntegral& op) {
  launch(queue, op, [](ArangeIntegral& o) { k::arange(o.out, o.start, o.step); });
}
void enqueue(Queue* queue, const Linspace& op) {
  launch(queue, op, [](Linspace& o) { k::linspace(o.out, o.start, o.end); });
}
void enqueue(Queue* queue, const Logspace& op) {
  launch(queue, op, [](Logspace& o) { k::logspace(o.out, o.start, o.end, o.base); });
}

}  // namespace mlu::hal
