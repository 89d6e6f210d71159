#include "mlu_kernels/embedding.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const EmbeddingDenseBackward& op) {
  launch(queue, op, [](EmbeddingDenseBackward& o) {
    k::embedding_dense_backward(o.grad_weight, o.grad, o.indices, o.padding_idx,
                                o.scale_by_frequency);
  });
}
void enqueue(Queue* queue, const EmbeddingBagForward& op) {
  launch(queue, op, [](EmbeddingBagForward& o) {
    k::embedding_bag_forward(o.bag, o.weight, o.output, o.offset2bag, o.bag_size, o.max_indices);
  });
}
void enqueue(Queue* queue, const EmbeddingBagBackward& op) {
  launch(queue, op, [](EmbeddingBagBackward& o) {
    k::embedding_bag_backward(o.bag, o.grad_weight, o.grad, o.offset2bag, o.bag_size, o.max_indices,
                              o.scale_by_frequency);
  });
}
void enqueue(Queue* queue, const EmbeddingBagPerSampleWeightsBackward& op) {
  launch(queue, op, [](EmbeddingBagPerSampleWeightsBackward& o) {
    k::embedding_bag_per_sample_weights_backward(o.bag, o.grad_weights, o.grad, o.weight,
                                                 o.offset2bag);
  });
}

}  // namespace mlu::hal
