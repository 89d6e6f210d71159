#include "mlu_kernels/norm.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::address_or_null;
using software::launch;

void enqueue(Queue* queue, const BatchNorm& op) {
  launch(queue, op, [](BatchNorm& o) {
    k::batch_norm(o.out, o.in, o.vectors, o.training, o.momentum, o.eps);
  });
}
void enqueue(Queue* queue, const BatchNormBackward& op) {
  launch(queue, op, [](BatchNormBackward& o) {
    k::batch_norm_backward(address_or_null(o.grad_in), address_or_null(o.grad_weight),
                           address_or_null(o.grad_bias), o.grad_out, o.in, o.vectors, o.training,
                           o.eps);
  });
}
void enqueue(Queue* queue, const LayerNorm& op) {
  launch(queue, op, [](LayerNorm& o) { k::row_norm(o.norm, o.out, o.in, o.mean, o.rstd, o.eps); });
}
void enqueue(Queue* queue, const GroupNorm& op) {
  launch(queue, op, [](GroupNorm& o) { k::row_norm(o.norm, o.out, o.in, o.mean, o.rstd, o.eps); });
}
void enqueue(Queue* queue, const RowNormBackward& op) {
  launch(queue, op, [](RowNormBackward& o) {
    k::row_norm_backward(o.norm, address_or_null(o.grad_in), address_or_null(o.grad_weight),
                         address_or_null(o.grad_bias), o.grad_out, o.in, o.mean, o.rstd);
  });
}

}  // namespace mlu::hal
