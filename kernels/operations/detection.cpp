#include "mlu_kernels/detection.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const Nms& op) {
  launch(queue, op, [](Nms& o) { k::nms(o.boxes, o.order, o.iou_threshold, o.keep, o.kept); });
}

template <RoiKind kind>
void enqueue(Queue* queue, const RoiPoolForward<kind>& op) {
  launch(queue, op, [](RoiPoolForward<kind>& o) {
    k::roi_pool_forward(o.pooling, o.features, o.output, o.index);
  });
}
template <RoiKind kind>
void enqueue(Queue* queue, const RoiPoolBackward<kind>& op) {
  launch(queue, op, [](RoiPoolBackward<kind>& o) {
    k::roi_pool_backward(o.pooling, o.grad_output, o.index, o.grad_features);
  });
}

template void enqueue(Queue*, const RoiPoolForward<RoiKind::Align>&);
template void enqueue(Queue*, const RoiPoolForward<RoiKind::MaxPool>&);
template void enqueue(Queue*, const RoiPoolForward<RoiKind::PsAlign>&);
template void enqueue(Queue*, const RoiPoolForward<RoiKind::PsAvgPool>&);
template void enqueue(Queue*, const RoiPoolBackward<RoiKind::Align>&);
template void enqueue(Queue*, const RoiPoolBackward<RoiKind::MaxPool>&);
template void enqueue(Queue*, const RoiPoolBackward<RoiKind::PsAlign>&);
template void enqueue(Queue*, const RoiPoolBackward<RoiKind::PsAvgPool>&);

}  // namespace mlu::hal
