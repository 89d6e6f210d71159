#include "mlu_kernels/index.h"

#include "launch.h"
#include "mlu_kernels/elementwise.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

namespace {

template <typename Operation>
void enqueue_gather(Queue* queue, const Operation& op) {
  launch(queue, op, [](Operation& o) { k::index_gather(o.out, o.src, o.indices, o.negative); });
}

template <typename Operation>
void enqueue_scatter(Queue* queue, const Operation& op) {
  launch(queue, op, [](Operation& o) {
    if (o.initial)
      k::index_scatter(o.dst, o.initial->bind(), o.indices, o.negative, ScatterReduce::Assign);
    k::index_scatter(o.dst, o.values.bind(), o.indices, o.negative, o.reduce, o.alpha);
  });
}

bool is_floating(DType dtype) {
  return dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16 ||
         dtype == DType::BFloat16;
}

}  // namespace

void enqueue(Queue* queue, const Index& op) { enqueue_gather(queue, op); }
void enqueue(Queue* queue, const IndexSelect& op) { enqueue_gather(queue, op); }
void enqueue(Queue* queue, const Gather& op) { enqueue_gather(queue, op); }
void enqueue(Queue* queue, const Take& op) { enqueue_gather(queue, op); }

void enqueue(Queue* queue, const IndexPut& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const IndexAdd& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const IndexCopy& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const IndexFill& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const Scatter& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const ScatterAdd& op) { enqueue_scatter(queue, op); }
void enqueue(Queue* queue, const ScatterReduction& op) { enqueue_scatter(queue, op); }

void enqueue(Queue* queue, const ScatterMean& op) {
  launch(queue, op, [](ScatterMean& o) {
    k::index_scatter(o.count_indexed, o.one.bind(), {o.index}, NegativeIndices::Reject,
                     ScatterReduce::Add);
    k::unary(UnaryOp::ClampMin, o.count, o.count, 1);
    k::binary(is_floating(o.out.dtype) ? BinaryOp::Div : BinaryOp::FloorDivide, o.out, o.out,
              o.count);
  });
}

void enqueue(Queue* queue, const MaskedFill& op) {
  launch(queue, op, [](MaskedFill& o) { k::where(o.self, o.mask, o.value.bind(), o.self); });
}
void enqueue(Queue* queue, const MaskedScatter& op) {
  launch(queue, op, [](MaskedScatter& o) { k::masked_scatter(o.dst, o.mask, o.source); });
}
void enqueue(Queue* queue, const Nonzero& op) {
  launch(queue, op, [](Nonzero& o) { k::nonzero(o.out, o.in); });
}

}  // namespace mlu::hal
