#include "mlu_kernels/upsample.h"

#include "launch.h"
#include "mlu_kernels/grid_sample.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

// The kernel of the mode is chosen where the work runs: one launch whichever it is.
void enqueue(Queue* queue, const Upsample& op) {
  launch(queue, op, [](Upsample& o) {
    switch (o.mode) {
      case UpsampleMode::Linear: k::upsample_linear(o.out, o.in, o.scales, o.align_corners); break;
      case UpsampleMode::Cubic: k::upsample_bicubic(o.out, o.in, o.scales, o.align_corners); break;
      case UpsampleMode::Nearest:
      case UpsampleMode::NearestExact:
        k::upsample_nearest(o.out, o.in, o.scales, o.mode == UpsampleMode::NearestExact);
        break;
    }
  });
}
void enqueue(Queue* queue, const UpsampleBackward& op) {
  launch(queue, op, [](UpsampleBackward& o) {
    switch (o.mode) {
      case UpsampleMode::Linear:
        k::upsample_linear_backward(o.grad_in, o.grad_out, o.scales, o.align_corners);
        break;
      case UpsampleMode::Cubic:
        k::upsample_bicubic_backward(o.grad_in, o.grad_out, o.scales, o.align_corners);
        break;
      case UpsampleMode::Nearest:
      case UpsampleMode::NearestExact:
        k::upsample_nearest_backward(o.grad_in, o.grad_out, o.scales,
                                     o.mode == UpsampleMode::NearestExact);
        break;
    }
  });
}

void enqueue(Queue* queue, const GridSampler2d& op) {
  launch(queue, op, [](GridSampler2d& o) { k::grid_sample(o.sampling, o.output); });
}
void enqueue(Queue* queue, const GridSampler2dBackward& op) {
  launch(queue, op, [](GridSampler2dBackward& o) {
    k::grid_sample_backward(o.sampling, o.grad_output, o.grad_input, o.grad_grid);
  });
}

}  // namespace mlu::hal
