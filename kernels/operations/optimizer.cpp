#include "mlu_kernels/optimizer.h"

#include "launch.h"
#include "mlu_kernels/amp.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const FusedAdam& op) {
  launch(queue, op, [](FusedAdam& o) { k::fused_adam(o.slots, o.config); });
}
void enqueue(Queue* queue, const FusedAdamW& op) {
  launch(queue, op, [](FusedAdamW& o) { k::fused_adam(o.slots, o.config); });
}
void enqueue(Queue* queue, const FusedSgd& op) {
  launch(queue, op, [](FusedSgd& o) { k::fused_sgd(o.slots, o.config); });
}
void enqueue(Queue* queue, const AmpUnscale& op) {
  launch(queue, op, [](AmpUnscale& o) { k::unscale_and_check(o.grads, o.found_inf, o.inv_scale); });
}
void enqueue(Queue* queue, const AmpUpdateScale& op) {
  launch(queue, op, [](AmpUpdateScale& o) {
    k::update_scale(o.scale, o.growth_tracker, o.found_inf, o.growth_factor, o.backoff_factor,
                    o.growth_interval);
  });
}

}  // namespace mlu::hal
