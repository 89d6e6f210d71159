#include "mlu_kernels/loss.h"

#include "launch.h"
#include "mlu_kernels/ctc.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using k::PointwiseLoss;
using software::address_or_null;
using software::launch;

namespace {

template <PointwiseLoss loss, typename Operation>
void enqueue_loss(Queue* queue, const Operation& op) {
  launch(queue, op, [](Operation& o) {
    k::pointwise_loss(loss, o.out, o.input, o.target, address_or_null(o.weight),
                      address_or_null(o.pos_weight), o.reduction, o.param);
  });
}

template <PointwiseLoss loss, typename Operation>
void enqueue_loss_backward(Queue* queue, const Operation& op) {
  launch(queue, op, [](Operation& o) {
    k::pointwise_loss_backward(loss, o.grad_input, o.grad_output, o.input, o.target,
                               address_or_null(o.weight), o.scale, o.param);
  });
}

}  // namespace

void enqueue(Queue* queue, const NllLoss& op) {
  launch(queue, op, [](NllLoss& o) {
    k::nll_loss(o.out, o.total_weight, o.input, o.target, address_or_null(o.weight), o.reduction,
                o.ignore_index);
  });
}
void enqueue(Queue* queue, const NllLossBackward& op) {
  launch(queue, op, [](NllLossBackward& o) {
    k::nll_loss_backward(o.grad_input, o.grad_output, o.target, address_or_null(o.weight),
                         o.reduction, o.ignore_index, o.total_weight);
  });
}

void enqueue(Queue* queue, const MseLoss& op) { enqueue_loss<PointwiseLoss::Mse>(queue, op); }
void enqueue(Queue* queue, const SmoothL1Loss& op) {
  enqueue_loss<PointwiseLoss::SmoothL1>(queue, op);
}
void enqueue(Queue* queue, const HuberLoss& op) { enqueue_loss<PointwiseLoss::Huber>(queue, op); }
void enqueue(Queue* queue, const BinaryCrossEntropy& op) {
  enqueue_loss<PointwiseLoss::BinaryCrossEntropy>(queue, op);
}
void enqueue(Queue* queue, const BinaryCrossEntropyWithLogits& op) {
  enqueue_loss<PointwiseLoss::BinaryCrossEntropyWithLogits>(queue, op);
}

void enqueue(Queue* queue, const MseLossBackward& op) {
  enqueue_loss_backward<PointwiseLoss::Mse>(queue, op);
}
void enqueue(Queue* queue, const SmoothL1LossBackward& op) {
  enqueue_loss_backward<PointwiseLoss::SmoothL1>(queue, op);
}
void enqueue(Queue* queue, const HuberLossBackward& op) {
  enqueue_loss_backward<PointwiseLoss::Huber>(queue, op);
}
void enqueue(Queue* queue, const BinaryCrossEntropyBackward& op) {
  enqueue_loss_backward<PointwiseLoss::BinaryCrossEntropy>(queue, op);
}

void enqueue(Queue* queue, const CtcLoss& op) {
  launch(queue, op, [](CtcLoss& o) { k::ctc_loss(o.ctc, o.neg_log_likelihood, o.log_alpha); });
}
void enqueue(Queue* queue, const CtcLossBackward& op) {
  launch(queue, op, [](CtcLossBackward& o) {
    k::ctc_loss_backward(o.ctc, o.grad_out, o.neg_log_likelihood, o.log_alpha, o.zero_infinity,
                         o.grad);
  });
}

}  // namespace mlu::hal
