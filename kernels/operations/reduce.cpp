#include "mlu_kernels/reduce.h"

#include "launch.h"
#include "mlu_kernels/reduce_index.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::address_or_null;
using software::launch;

void enqueue(Queue* queue, const Reduce& op) {
  launch(queue, op, [](Reduce& o) { k::reduce(o.op, o.out, o.in, o.param); });
}
void enqueue(Queue* queue, const VarMean& op) {
  launch(queue, op, [](VarMean& o) {
    k::var_mean(o.var, address_or_null(o.mean), o.in, o.correction, o.take_sqrt);
  });
}
void enqueue(Queue* queue, const ArgReduce& op) {
  launch(queue, op, [](ArgReduce& o) {
    k::arg_reduce(o.is_max, address_or_null(o.values), o.indices, o.in, o.dim);
  });
}
void enqueue(Queue* queue, const Cumsum& op) {
  launch(queue, op, [](Cumsum& o) { k::cumsum(o.out, o.in, o.dim); });
}
void enqueue(Queue* queue, const Cumprod& op) {
  launch(queue, op, [](Cumprod& o) { k::cumprod(o.out, o.in, o.dim); });
}
void enqueue(Queue* queue, const Sort& op) {
  launch(queue, op, [](Sort& o) { k::sort(o.values, o.indices, o.in, o.dim, o.descending); });
}
void enqueue(Queue* queue, const Topk& op) {
  launch(queue, op, [](Topk& o) { k::topk(o.values, o.indices, o.in, o.dim, o.k, o.largest); });
}

}  // namespace mlu::hal
