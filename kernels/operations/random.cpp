#include "mlu_kernels/random.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

// Each operation resolves its counter range where it runs: in a captured graph, the replay
// running it has set the base by then.
void enqueue(Queue* queue, const Uniform& op) {
  launch(queue, op, [](Uniform& o) { k::uniform(o.out, o.philox.resolve(), o.from, o.to); });
}
void enqueue(Queue* queue, const Normal& op) {
  launch(queue, op, [](Normal& o) { k::normal(o.out, o.philox.resolve(), o.mean, o.std); });
}
void enqueue(Queue* queue, const Exponential& op) {
  launch(queue, op, [](Exponential& o) { k::exponential(o.out, o.philox.resolve(), o.lambda); });
}
void enqueue(Queue* queue, const RandomIntegers& op) {
  launch(queue, op,
         [](RandomIntegers& o) { k::random_integers(o.out, o.philox.resolve(), o.from, o.range); });
}
void enqueue(Queue* queue, const Bernoulli& op) {
  launch(queue, op, [](Bernoulli& o) { k::bernoulli(o.out, o.philox.resolve(), o.p); });
}
void enqueue(Queue* queue, const BernoulliTensor& op) {
  launch(queue, op, [](BernoulliTensor& o) { k::bernoulli(o.out, o.philox.resolve(), o.p); });
}
void enqueue(Queue* queue, const Dropout& op) {
  launch(queue, op, [](Dropout& o) { k::dropout(o.out, o.mask, o.in, o.philox.resolve(), o.p); });
}
void enqueue(Queue* queue, const MaskedScale& op) {
  launch(queue, op, [](MaskedScale& o) { k::masked_scale(o.out, o.in, o.mask, o.scale); });
}
void enqueue(Queue* queue, const Randperm& op) {
  launch(queue, op, [](Randperm& o) { k::randperm(o.out, o.philox.resolve()); });
}
void enqueue(Queue* queue, const SampleCategories& op) {
  launch(queue, op, [](SampleCategories& o) { k::sample_categories(o.out, o.probs, o.uniforms); });
}

}  // namespace mlu::hal
