#include "mlu_kernels/attention.h"

#include <cstdint>

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const AttentionForward& op) {
  launch(queue, op, [](AttentionForward& o) {
    Attention& a = o.attention;
    if (o.seed) {
      // Resolved here: in a captured graph, the replay running this work has set the base.
      a.rng = o.philox.resolve();
      *static_cast<std::int64_t*>(o.seed->data) = static_cast<std::int64_t>(a.rng.seed);
      *static_cast<std::int64_t*>(o.offset->data) = static_cast<std::int64_t>(a.rng.offset);
    }
    k::attention_forward(a);
  });
}

void enqueue(Queue* queue, const AttentionBackward& op) {
  launch(queue, op, [](AttentionBackward& o) {
    Attention& a = o.attention;
    // The forward's state, read where this work runs: its forward has written it by then.
    if (a.dropout > 0) {
      a.rng = {static_cast<std::uint64_t>(*static_cast<const std::int64_t*>(o.seed->data)),
               static_cast<std::uint64_t>(*static_cast<const std::int64_t*>(o.offset->data))};
    }
    k::attention_backward(a, o.grad_out, o.grad_q, o.grad_k, o.grad_v);
  });
}

}  // namespace mlu::hal
