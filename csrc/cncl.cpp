#include "cncl.h"

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "allocator.h"
#include "cncl_operands.h"
#include "stream.h"
#include "tensor_desc.h"

namespace torch_mlu {
namespace {

using namespace cncl;

c10::intrusive_ptr<c10::ivalue::Future> tensor_future(std::vector<c10::Device> devices) {
  return c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()),
                                                  std::move(devices));
}

// A collective enqueued on a communication stream: finished for the host when its notifier is,
// for a stream when that stream has waited for it. A send or receive is only started where it
// is enqueued (its peer may post the other side later); its work enqueues the wait for it when
// first asked about its completion.
class QueuedWork final : public c10d::Work {
 public:
  QueuedWork(int rank, c10d::OpType type, c10::Stream comm, Tensors outputs,
             std::shared_ptr<const int> source_rank, std::function<void()> finish_started)
      : Work(rank, type),
        comm_(comm),
        outputs_(std::move(outputs)),
        future_(tensor_future({comm.device()})),
        source_rank_(std::move(source_rank)),
        finish_started_(std::move(finish_started)) {
    if (!finish_started_) complete();
  }

  bool isCompleted() override {
    ensure_complete();
    return done_.query();
  }
  // Orders the caller's current stream after the collective; the host goes on.
  bool wait(std::chrono::milliseconds /*timeout*/) override {
    ensure_complete();
    done_.block(current_stream(comm_.device_index()));
    return true;
  }
  void synchronize() override { wait(kNoTimeout); }
  std::vector<at::Tensor> result() override { return outputs_; }
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override {
    ensure_complete();
    return future_;
  }
  // Known once the receive has run: waits for it on the host.
  int sourceRank() const override {
    const_cast<QueuedWork*>(this)->ensure_complete();
    done_.synchronize();
    return *source_rank_;
  }

 private:
  // Marks the end of the collective's work on the communication stream.
  void complete() {
    c10::StreamGuard on_comm(comm_);
    done_.record(comm_);
    // The future's value is ready where the communication stream is (it records its events
    // there); its waiters' streams wait for that, as NCCL's do.
    future_->markCompleted(c10::IValue(outputs_));
  }
  void ensure_complete() {
    if (!finish_started_) return;
    std::exchange(finish_started_, nullptr)();
    complete();
  }

  c10::Stream comm_;
  c10::Event done_{kMLU};
  Tensors outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::shared_ptr<const int> source_rank_;
  std::function<void()> finish_started_;
};

// A collective that ran on the calling thread (CPU operands): already finished.
class FinishedWork final : public c10d::Work {
 public:
  FinishedWork(int rank, c10d::OpType type, Tensors outputs, int source_rank)
      : Work(rank, type), outputs_(std::move(outputs)), source_rank_(source_rank) {
    future_ = tensor_future({});
    future_->markCompleted(c10::IValue(outputs_));
  }
  bool isCompleted() override { return true; }
  bool wait(std::chrono::milliseconds /*timeout*/) override { return true; }
  void synchronize() override {}
  std::vector<at::Tensor> result() override { return outputs_; }
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }
  int sourceRank() const override { return source_rank_; }

 private:
  Tensors outputs_;
  int source_rank_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

void wait_for(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

// Inside an in-place reduction (all_reduce, its coalesced form, reduce): `start` runs the
// transport's collective on what it reduces for `views`, whose results land back in them.
template <typename Start>
void reduce_in_place(const Reduction& reduction, const Tensors& views, int size, bool result,
                     Start start) {
  Tensors moved;
  for (const auto& v : views) moved.push_back(reduction.to_transport(v, /*writable=*/true));
  wait_for(start(moved));
  for (std::size_t i = 0; i < views.size(); ++i) {
    reduction.from_transport(views[i], moved[i], size, result);
  }
}

void finish_all(std::vector<c10::intrusive_ptr<c10d::Work>>& started) {
  auto works = std::move(started);
  started.clear();
  for (const auto& work : works) wait_for(work);
}

// Enqueues, on `comm`, the wait for the sends and receives started there so far. Holds no
// reference to the backend: a work may outlive its process group.
std::function<void()> finisher_on(
    c10::Stream comm, std::shared_ptr<std::vector<c10::intrusive_ptr<c10d::Work>>> started) {
  return [comm, started = std::move(started)] {
    c10::StreamGuard on_comm(comm);
    launch(comm.device_index(), "cncl:wait_p2p", [started] { finish_all(*started); });
  };
}

// After a failed collective: the ranks that do not report the same failure within a few seconds
// through the store (dead, hung, or elsewhere in their programs), as a sentence to append to the
// error; empty when every rank reported it or the store cannot tell.
std::string silent_ranks(const c10::intrusive_ptr<c10d::Store>& store, uint64_t sequence, int rank,
                         int size) {
  if (!store) return "";
  const std::string prefix = c10::str("failed/", sequence, "/");
  try {
    store->set(prefix + std::to_string(rank), std::vector<uint8_t>{});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::vector<int> silent;
    do {
      silent.clear();
      for (int r = 0; r < size; ++r) {
        if (r != rank && !store->check({prefix + std::to_string(r)})) silent.push_back(r);
      }
      if (silent.empty()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return c10::str("; ranks that did not report failing in it within 3 s: ",
                    c10::Join(", ", silent));
  } catch (const std::exception&) {
    return "";  // the store went with a failed rank
  }
}

std::atomic<GilReleaser> gil_releaser{nullptr};

}  // namespace

CnclBackend::CnclBackend(c10::intrusive_ptr<c10d::Backend> transport,
                         c10::intrusive_ptr<c10d::Store> store, int rank, int size)
    : Backend(rank, size), transport_(std::move(transport)), store_(std::move(store)) {
  TORCH_CHECK(transport_, "cncl: a transport backend is required");
}

void set_gil_releaser(GilReleaser releaser) { gil_releaser = releaser; }

CnclBackend::~CnclBackend() {
  // The transport and the operands' views must outlive the enqueued collectives.
  if (stream_) without_throwing("cncl backend", [&] { driver().drain(stream_->device_index()); });
  // The transport's destructor joins its worker threads, and a worker freeing a finished CPU
  // collective's tensors takes the GIL for their Python objects. The last reference to this
  // backend goes with its Python object or its process group, with the GIL held: release it.
  auto release = [](void* self) {
    auto* backend = static_cast<CnclBackend*>(self);
    backend->started_p2p_.reset();
    backend->transport_.reset();
  };
  if (const GilReleaser releaser = gil_releaser.load()) {
    releaser(release, this);
  } else {
    release(this);
  }
}

c10::Stream CnclBackend::communication_stream(c10::DeviceIndex device) {
  if (!stream_) stream_ = stream_from_pool(device, /*high_priority=*/true);
  TORCH_CHECK(stream_->device_index() == device, "cncl: this process group's collectives run on ",
              c10::Device(kMLU, stream_->device_index()), "; a collective on ",
              c10::Device(kMLU, device),
              " needs a process group of its own (one device per process, as with NCCL)");
  return *stream_;
}

std::function<void()> CnclBackend::finisher() const { return finisher_on(*stream_, started_p2p_); }

void CnclBackend::finish_enqueued() {
  if (stream_) hal_call([&] { driver().synchronize(queue_of(*stream_)); });
}

CnclBackend::WorkPtr CnclBackend::run(const char* name, c10d::OpType type, const Tensors& operands,
                                      Tensors outputs, std::function<void(int& source_rank)> body,
                                      bool p2p) {
  std::optional<c10::DeviceIndex> device;
  bool has_cpu = false;
  for (const auto& t : operands) {
    TORCH_CHECK(t.defined(), name, " got an undefined tensor");
    TORCH_CHECK(t.layout() == at::kStrided, name, " takes dense tensors, got ", t.layout());
    TORCH_CHECK(t.is_non_overlapping_and_dense(), name,
                " takes tensors whose elements fill their memory (contiguous in some order); got "
                "shape ",
                t.sizes(), " with strides ", t.strides(), " (call .contiguous() first)");
    if (t.device().type() == kMLU) {
      TORCH_CHECK(!device || *device == t.device().index(), name,
                  " got tensors on two mlu devices");
      device = t.device().index();
    } else {
      TORCH_CHECK(t.device().type() == at::kCPU, name, " takes mlu or CPU tensors, got ",
                  t.device());
      has_cpu = true;
    }
  }
  TORCH_CHECK(!(device && has_cpu), name,
              " got both mlu and CPU tensors; a collective's tensors share one device");
  std::optional<c10::Stream> comm;
  if (device) {
    refuse_in_capture(*device, name);
    comm = communication_stream(*device);
  }
  const uint64_t sequence = ++sequence_;  // counted once the call is known to be valid
  const int rank = getRank();
  const int size = getSize();
  auto describe = [name, sequence, rank, size, store = store_](const std::exception& e) {
    return c10::str(name, " (collective #", sequence, " of this process group, rank ", rank, " of ",
                    size, ") failed: ", e.what(), silent_ranks(store, sequence, rank, size));
  };

  if (!device) {
    TORCH_INTERNAL_ASSERT(!p2p, "CPU sends and receives go to the transport directly");
    finish_enqueued();
    int source_rank = -1;
    try {
      body(source_rank);
    } catch (const std::exception& e) {
      TORCH_CHECK(false, describe(e));
    }
    return c10::make_intrusive<FinishedWork>(rank, type, std::move(outputs), source_rank);
  }

  if (coalescing_) coalesced_on_stream_ = true;
  c10::Event ready(kMLU);
  ready.record(current_stream(*device));
  ready.block(*comm);
  // The allocator must not hand the operands' memory to other work before the collective ran.
  for (const auto& t : operands) {
    if (t.storage().data_ptr().get() != nullptr) record_stream(t.storage().data_ptr(), *comm);
  }
  auto source_rank = std::make_shared<int>(-1);
  {
    c10::StreamGuard on_comm(*comm);
    launch(*device, name,
           [body = std::move(body), source_rank, describe, started = started_p2p_, p2p] {
             try {
               // Sends and receives started earlier are done before anything else runs.
               if (!p2p) finish_all(*started);
               body(*source_rank);
             } catch (const std::exception& e) {
               throw std::runtime_error(describe(e));
             }
           });
  }
  std::function<void()> finish_started;
  if (p2p) finish_started = finisher();
  return c10::make_intrusive<QueuedWork>(rank, type, *comm, std::move(outputs),
                                         std::move(source_rank), std::move(finish_started));
}

CnclBackend::WorkPtr CnclBackend::broadcast(Tensors& tensors, const c10d::BroadcastOptions& opts) {
  return run("cncl:broadcast", c10d::OpType::BROADCAST, tensors, tensors,
             [t = transport_.get(), views = movable(tensors), opts](int&) mutable {
               wait_for(t->broadcast(views, opts));
             });
}

CnclBackend::WorkPtr CnclBackend::allreduce(Tensors& tensors, const c10d::AllreduceOptions& opts) {
  Reduction reduction(opts.reduceOp, tensors, "all_reduce");
  c10d::AllreduceOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  return run("cncl:all_reduce", c10d::OpType::ALLREDUCE, tensors, tensors,
             [t = transport_.get(), views = host_views(tensors), transport_opts, reduction,
              size = getSize()](int&) mutable {
               reduce_in_place(reduction, views, size, true,
                               [&](Tensors& moved) { return t->allreduce(moved, transport_opts); });
             });
}

CnclBackend::WorkPtr CnclBackend::allreduce_coalesced(Tensors& tensors,
                                                      const c10d::AllreduceCoalescedOptions& opts) {
  Reduction reduction(opts.reduceOp, tensors, "all_reduce_coalesced");
  c10d::AllreduceCoalescedOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  return run("cncl:all_reduce_coalesced", c10d::OpType::ALLREDUCE_COALESCED, tensors, tensors,
             [t = transport_.get(), views = host_views(tensors), transport_opts, reduction,
              size = getSize()](int&) mutable {
               reduce_in_place(reduction, views, size, true, [&](Tensors& moved) {
                 return t->allreduce_coalesced(moved, transport_opts);
               });
             });
}

CnclBackend::WorkPtr CnclBackend::reduce(Tensors& tensors, const c10d::ReduceOptions& opts) {
  Reduction reduction(opts.reduceOp, tensors, "reduce");
  c10d::ReduceOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  const bool root = getRank() == opts.rootRank;
  return run("cncl:reduce", c10d::OpType::REDUCE, tensors, tensors,
             [t = transport_.get(), views = host_views(tensors), transport_opts, reduction,
              size = getSize(), root](int&) mutable {
               reduce_in_place(reduction, views, size, root,
                               [&](Tensors& moved) { return t->reduce(moved, transport_opts); });
             });
}

CnclBackend::WorkPtr CnclBackend::allgather(TensorLists& outputs, Tensors& inputs,
                                            const c10d::AllgatherOptions& opts) {
  return run("cncl:all_gather", c10d::OpType::ALLGATHER, concat(inputs, flatten(outputs)),
             flatten(outputs),
             [t = transport_.get(), outs = movable(outputs), ins = movable(inputs),
              opts](int&) mutable { wait_for(t->allgather(outs, ins, opts)); });
}

CnclBackend::WorkPtr CnclBackend::_allgather_base(at::Tensor& output, at::Tensor& input,
                                                  const c10d::AllgatherOptions& opts) {
  check_parts("all_gather_into_tensor", output, input, getSize());
  return run("cncl:all_gather_into_tensor", c10d::OpType::_ALLGATHER_BASE, {input, output},
             {output},
             [t = transport_.get(), out = movable(output).view(-1), in = movable(input).view(-1),
              opts](int&) mutable { wait_for(t->_allgather_base(out, in, opts)); });
}

CnclBackend::WorkPtr CnclBackend::allgather_coalesced(TensorLists& outputs, Tensors& inputs,
                                                      const c10d::AllgatherOptions& opts) {
  return run("cncl:all_gather_coalesced", c10d::OpType::ALLGATHER_COALESCED,
             concat(inputs, flatten(outputs)), flatten(outputs),
             [t = transport_.get(), outs = movable(outputs), ins = movable(inputs),
              opts](int&) mutable { wait_for(t->allgather_coalesced(outs, ins, opts)); });
}

CnclBackend::WorkPtr CnclBackend::allgather_into_tensor_coalesced(
    Tensors& outputs, Tensors& inputs, const c10d::AllgatherOptions& opts) {
  TORCH_CHECK(outputs.size() == inputs.size(),
              "cncl: all_gather_into_tensor_coalesced needs one output per input");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_parts("all_gather_into_tensor_coalesced", outputs[i], inputs[i], getSize());
  }
  return run("cncl:all_gather_into_tensor_coalesced", c10d::OpType::COALESCED,
             concat(inputs, outputs), outputs,
             [t = transport_.get(), outs = flat_movable(outputs), ins = flat_movable(inputs), opts](
                 int&) mutable { wait_for(t->allgather_into_tensor_coalesced(outs, ins, opts)); });
}

CnclBackend::WorkPtr CnclBackend::gather(TensorLists& outputs, Tensors& inputs,
                                         const c10d::GatherOptions& opts) {
  return run("cncl:gather", c10d::OpType::GATHER, concat(inputs, flatten(outputs)),
             flatten(outputs),
             [t = transport_.get(), outs = movable(outputs), ins = movable(inputs),
              opts](int&) mutable { wait_for(t->gather(outs, ins, opts)); });
}

CnclBackend::WorkPtr CnclBackend::scatter(Tensors& outputs, TensorLists& inputs,
                                          const c10d::ScatterOptions& opts) {
  return run("cncl:scatter", c10d::OpType::SCATTER, concat(outputs, flatten(inputs)), outputs,
             [t = transport_.get(), outs = movable(outputs), ins = movable(inputs),
              opts](int&) mutable { wait_for(t->scatter(outs, ins, opts)); });
}

// The list form, on every lane (gloo has it only from PyTorch 2.7): the inputs stacked into one
// buffer, reduced and scattered as a tensor.
CnclBackend::WorkPtr CnclBackend::reduce_scatter(Tensors& outputs, TensorLists& inputs,
                                                 const c10d::ReduceScatterOptions& opts) {
  TORCH_CHECK(outputs.size() == 1 && inputs.size() == 1,
              "cncl: reduce_scatter takes one output and one list of inputs");
  TORCH_CHECK(static_cast<int>(inputs[0].size()) == getSize(),
              "cncl: reduce_scatter needs one input per rank (", getSize(), "), got ",
              inputs[0].size());
  for (const auto& in : inputs[0]) {
    TORCH_CHECK(in.sizes() == outputs[0].sizes() && in.dtype() == outputs[0].dtype(),
                "cncl: reduce_scatter's inputs must have the output's shape and dtype (",
                outputs[0].sizes(), ", ", outputs[0].scalar_type(), "), got ", in.sizes(), ", ",
                in.scalar_type());
  }
  const Tensors operands = concat(outputs, inputs[0]);
  Reduction reduction(opts.reduceOp, operands, "reduce_scatter");
  c10d::ReduceScatterOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  return run("cncl:reduce_scatter", c10d::OpType::REDUCE_SCATTER, operands, outputs,
             [t = transport_.get(), out = host_view(outputs[0]), ins = host_views(inputs[0]),
              transport_opts, reduction, size = getSize()](int&) mutable {
               at::Tensor in = reduction.to_transport(at::stack(ins), true).view(-1);
               at::Tensor result = out.contiguous().view(-1);
               at::Tensor moved = reduction.to_transport(result, true);
               at::Tensor moved_flat = moved.view(-1);
               wait_for(t->_reduce_scatter_base(moved_flat, in, transport_opts));
               reduction.from_transport(result, moved, size);
               if (result.data_ptr() != out.data_ptr()) out.copy_(result.view(out.sizes()));
             });
}

CnclBackend::WorkPtr CnclBackend::_reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                       const c10d::ReduceScatterOptions& opts) {
  check_parts("reduce_scatter_tensor", input, output, getSize());
  Reduction reduction(opts.reduceOp, {output, input}, "reduce_scatter_tensor");
  c10d::ReduceScatterOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  return run(
      "cncl:reduce_scatter_tensor", c10d::OpType::_REDUCE_SCATTER_BASE, {input, output}, {output},
      [t = transport_.get(), out = host_view(output).view(-1), in = host_view(input).view(-1),
       transport_opts, reduction, size = getSize()](int&) mutable {
        at::Tensor moved_in = reduction.to_transport(in, false);
        at::Tensor moved_out = reduction.to_transport(out, true);
        wait_for(t->_reduce_scatter_base(moved_out, moved_in, transport_opts));
        reduction.from_transport(out, moved_out, size);
      });
}

CnclBackend::WorkPtr CnclBackend::reduce_scatter_tensor_coalesced(
    Tensors& outputs, Tensors& inputs, const c10d::ReduceScatterOptions& opts) {
  TORCH_CHECK(outputs.size() == inputs.size(),
              "cncl: reduce_scatter_tensor_coalesced needs one output per input");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_parts("reduce_scatter_tensor_coalesced", inputs[i], outputs[i], getSize());
  }
  const Tensors operands = concat(inputs, outputs);
  Reduction reduction(opts.reduceOp, operands, "reduce_scatter_tensor_coalesced");
  c10d::ReduceScatterOptions transport_opts = opts;
  transport_opts.reduceOp = reduction.transport_op();
  return run("cncl:reduce_scatter_tensor_coalesced", c10d::OpType::COALESCED, operands, outputs,
             [t = transport_.get(), outs = flat_host_views(outputs), ins = flat_host_views(inputs),
              transport_opts, reduction, size = getSize()](int&) mutable {
               Tensors moved_ins, moved_outs;
               for (const auto& in : ins) moved_ins.push_back(reduction.to_transport(in, false));
               for (const auto& out : outs) moved_outs.push_back(reduction.to_transport(out, true));
               wait_for(t->reduce_scatter_tensor_coalesced(moved_outs, moved_ins, transport_opts));
               for (std::size_t i = 0; i < outs.size(); ++i) {
                 reduction.from_transport(outs[i], moved_outs[i], size);
               }
             });
}

CnclBackend::WorkPtr CnclBackend::alltoall_base(at::Tensor& output, at::Tensor& input,
                                                std::vector<int64_t>& output_split_sizes,
                                                std::vector<int64_t>& input_split_sizes,
                                                const c10d::AllToAllOptions& opts) {
  check_same_dtype("all_to_all_single", output, input);
  check_splits("all_to_all_single", output, output_split_sizes, getSize());
  check_splits("all_to_all_single", input, input_split_sizes, getSize());
  // Split sizes count rows; a one-dimensional 16-bit tensor moves as bytes, two per row.
  const int64_t unit = input.dim() == 1 && is_16_bit_float(input) ? 2 : 1;
  auto in_units = [unit](std::vector<int64_t> splits) {
    for (auto& s : splits) s *= unit;
    return splits;
  };
  return run(
      "cncl:all_to_all_single", c10d::OpType::ALLTOALL_BASE, {input, output}, {output},
      [t = transport_.get(), out = movable(output), in = movable(input),
       out_splits = in_units(output_split_sizes), in_splits = in_units(input_split_sizes),
       opts](int&) mutable { wait_for(t->alltoall_base(out, in, out_splits, in_splits, opts)); });
}

// The list form, on every lane (gloo lacks it before PyTorch 2.7): every input flattened into
// one buffer, exchanged with uneven splits, then copied into the outputs.
CnclBackend::WorkPtr CnclBackend::alltoall(Tensors& outputs, Tensors& inputs,
                                           const c10d::AllToAllOptions& opts) {
  TORCH_CHECK(
      static_cast<int>(outputs.size()) == getSize() && static_cast<int>(inputs.size()) == getSize(),
      "cncl: all_to_all needs one input and one output per rank (", getSize(), "), got ",
      inputs.size(), " inputs and ", outputs.size(), " outputs");
  const Tensors operands = concat(inputs, outputs);
  for (const auto& x : operands) check_same_dtype("all_to_all", operands[0], x);
  return run(
      "cncl:all_to_all", c10d::OpType::ALLTOALL, operands, outputs,
      [t = transport_.get(), outs = movable(outputs), ins = movable(inputs), opts](int&) mutable {
        std::vector<int64_t> in_splits, out_splits;
        Tensors flat_ins;
        for (const auto& in : ins) {
          in_splits.push_back(in.numel());
          flat_ins.push_back(in.reshape(-1));
        }
        int64_t out_numel = 0;
        for (const auto& out : outs) {
          out_splits.push_back(out.numel());
          out_numel += out.numel();
        }
        at::Tensor in = at::cat(flat_ins);
        at::Tensor out = at::empty({out_numel}, in.options());
        wait_for(t->alltoall_base(out, in, out_splits, in_splits, opts));
        int64_t offset = 0;
        for (auto& o : outs) {
          o.copy_(out.narrow(0, offset, o.numel()).view(o.sizes()));
          offset += o.numel();
        }
      });
}

// Started on the communication stream, finished by their works or the next collective (run).
CnclBackend::WorkPtr CnclBackend::send(Tensors& tensors, int dst_rank, int tag) {
  if (on_cpu(tensors)) {
    finish_enqueued();
    return transport_->send(tensors, dst_rank, tag);
  }
  return run(
      "cncl:send", c10d::OpType::SEND, tensors, tensors,
      [t = transport_.get(), views = movable(tensors), dst_rank, tag,
       started = started_p2p_](int&) mutable { started->push_back(t->send(views, dst_rank, tag)); },
      /*p2p=*/true);
}

CnclBackend::WorkPtr CnclBackend::recv(Tensors& tensors, int src_rank, int tag) {
  if (on_cpu(tensors)) {
    finish_enqueued();
    return transport_->recv(tensors, src_rank, tag);
  }
  return run(
      "cncl:recv", c10d::OpType::RECV, tensors, tensors,
      [t = transport_.get(), views = movable(tensors), src_rank, tag,
       started = started_p2p_](int& source) mutable {
        started->push_back(t->recv(views, src_rank, tag));
        source = src_rank;
      },
      /*p2p=*/true);
}

CnclBackend::WorkPtr CnclBackend::recvAnysource(Tensors& tensors, int tag) {
  return run("cncl:recv", c10d::OpType::RECVANYSOURCE, tensors, tensors,
             [t = transport_.get(), views = movable(tensors), tag](int& source) mutable {
               auto work = t->recvAnysource(views, tag);
               wait_for(work);
               source = work->sourceRank();
             });
}

void CnclBackend::startCoalescing() {
  TORCH_CHECK(!coalescing_, "cncl: startCoalescing called twice without endCoalescing");
  coalescing_ = true;
  coalesced_on_stream_ = false;
}

CnclBackend::WorkPtr CnclBackend::endCoalescing() {
  TORCH_CHECK(coalescing_, "cncl: endCoalescing without startCoalescing");
  coalescing_ = false;
  if (!coalesced_on_stream_) {
    return c10::make_intrusive<FinishedWork>(getRank(), c10d::OpType::COALESCED, Tensors{}, -1);
  }
  return c10::make_intrusive<QueuedWork>(getRank(), c10d::OpType::COALESCED, *stream_, Tensors{},
                                         std::make_shared<const int>(-1), finisher());
}

// Waits for this rank's queued work and collectives, then for every rank.
CnclBackend::WorkPtr CnclBackend::barrier(const c10d::BarrierOptions& opts) {
  // As NCCL's: the work queued on the group's device before the barrier is done after it.
  if (stream_) {
    hal_call([&] { driver().synchronize(current_queue(stream_->device_index())); });
  }
  return run("cncl:barrier", c10d::OpType::BARRIER, {}, {},
             [t = transport_.get(), opts](int&) { wait_for(t->barrier(opts)); });
}

void CnclBackend::monitoredBarrier(const c10d::BarrierOptions& opts, bool wait_all_ranks) {
  finish_enqueued();
  transport_->monitoredBarrier(opts, wait_all_ranks);
}

}  // namespace torch_mlu
