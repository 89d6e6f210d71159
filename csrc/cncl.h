// The "cncl" collective backend: a c10d::Backend whose collectives on mlu tensors are ordered with
// the streams, as CNCL's (and NCCL's) are.
//
// A collective on mlu tensors is enqueued on the backend's communication stream behind the work
// already queued on the caller's current stream, and runs there through a host transport (a gloo
// backend) that reads and writes the operands' device memory in place: on the software MLU,
// device memory is host memory (a hardware driver would put CNCL's kernels here). The call
// returns at once; work.wait() orders the caller's current stream after the collective without
// blocking the host, and the caching allocator keeps the operands' memory until the
// communication stream is past them. A failed collective fails the communication stream (and
// every stream that waits for it) with its name, sequence number and the transport's error.
//
// Collectives on CPU tensors run on the calling thread once the queued ones are done: the
// transport pairs collectives across ranks by the order they reach it.
#pragma once

#include <c10/core/Stream.h>

#include <functional>
#include <optional>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace torch_mlu {

// Runs fn(arg) with the GIL released when the calling thread holds it. The Python module installs
// one (this library links no Python); without one fn runs as it is.
using GilReleaser = void (*)(void (*fn)(void*), void* arg) noexcept;
void set_gil_releaser(GilReleaser releaser);

class CnclBackend final : public c10d::Backend {
 public:
  using WorkPtr = c10::intrusive_ptr<c10d::Work>;
  using Tensors = std::vector<at::Tensor>;
  using TensorLists = std::vector<Tensors>;

  // `store`: where ranks report a failed collective to each other, to name the silent ones.
  CnclBackend(c10::intrusive_ptr<c10d::Backend> transport, c10::intrusive_ptr<c10d::Store> store,
              int rank, int size);
  ~CnclBackend() override;

  const std::string getBackendName() const override { return "cncl"; }

  WorkPtr broadcast(Tensors& tensors, const c10d::BroadcastOptions& opts) override;
  WorkPtr allreduce(Tensors& tensors, const c10d::AllreduceOptions& opts) override;
  WorkPtr allreduce_coalesced(Tensors& tensors,
                              const c10d::AllreduceCoalescedOptions& opts) override;
  WorkPtr reduce(Tensors& tensors, const c10d::ReduceOptions& opts) override;
  WorkPtr allgather(TensorLists& outputs, Tensors& inputs,
                    const c10d::AllgatherOptions& opts) override;
  WorkPtr _allgather_base(at::Tensor& output, at::Tensor& input,
                          const c10d::AllgatherOptions& opts) override;
  WorkPtr allgather_coalesced(TensorLists& outputs, Tensors& inputs,
                              const c10d::AllgatherOptions& opts) override;
  WorkPtr allgather_into_tensor_coalesced(Tensors& outputs, Tensors& inputs,
                                          const c10d::AllgatherOptions& opts) override;
  WorkPtr gather(TensorLists& outputs, Tensors& inputs, const c10d::GatherOptions& opts) override;
  WorkPtr scatter(Tensors& outputs, TensorLists& inputs, const c10d::ScatterOptions& opts) override;
  WorkPtr reduce_scatter(Tensors& outputs, TensorLists& inputs,
                         const c10d::ReduceScatterOptions& opts) override;
  WorkPtr _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                               const c10d::ReduceScatterOptions& opts) override;
  WorkPtr reduce_scatter_tensor_coalesced(Tensors& outputs, Tensors& inputs,
                                          const c10d::ReduceScatterOptions& opts) override;
  WorkPtr alltoall_base(at::Tensor& output, at::Tensor& input,
                        std::vector<int64_t>& output_split_sizes,
                        std::vector<int64_t>& input_split_sizes,
                        const c10d::AllToAllOptions& opts) override;
  WorkPtr alltoall(Tensors& outputs, Tensors& inputs, const c10d::AllToAllOptions& opts) override;
  WorkPtr send(Tensors& tensors, int dst_rank, int tag) override;
  WorkPtr recv(Tensors& tensors, int src_rank, int tag) override;
  WorkPtr recvAnysource(Tensors& tensors, int tag) override;
  WorkPtr barrier(const c10d::BarrierOptions& opts) override;
  void monitoredBarrier(const c10d::BarrierOptions& opts, bool wait_all_ranks) override;
  // Collectives between these are enqueued as they come; the end's work covers them all.
  void startCoalescing() override;
  WorkPtr endCoalescing() override;
  void setSequenceNumberForGroup() override {}
  uint64_t getSequenceNumberForGroup() override { return sequence_; }

  // Collectives enqueued so far (every rank counts the same ones).
  uint64_t sequence() const { return sequence_; }

 private:
  // Runs `body` (which starts the transport's collective on host views of the operands and
  // finishes it) in stream order: on the communication stream when the operands are on mlu,
  // on the calling thread otherwise. `outputs` are the work's result.
  // A send or receive (`p2p`) is only started by its body; its work finishes it.
  WorkPtr run(const char* name, c10d::OpType type, const Tensors& operands, Tensors outputs,
              std::function<void(int& source_rank)> body, bool p2p = false);
  // What a send's or receive's work calls to enqueue the wait for those started so far.
  std::function<void()> finisher() const;
  c10::Stream communication_stream(c10::DeviceIndex device);
  // Waits for the collectives already enqueued (raising their failures).
  void finish_enqueued();

  c10::intrusive_ptr<c10d::Backend> transport_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::optional<c10::Stream> stream_;
  uint64_t sequence_ = 0;
  bool coalescing_ = false;
  bool coalesced_on_stream_ = false;  // a collective since startCoalescing went to the stream
  // Sends and receives started on the communication stream and not yet waited for: a send
  // completes only when its receive is posted, so waiting for each where it is enqueued would
  // deadlock two ranks that both send first (batch_isend_irecv). Touched on that stream only.
  std::shared_ptr<std::vector<WorkPtr>> started_p2p_ = std::make_shared<std::vector<WorkPtr>>();
};

}  // namespace torch_mlu
