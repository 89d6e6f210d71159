"""The "cncl" collective backend: torch.distributed for mlu tensors.

On hardware this is Cambricon's CNCL. The software MLU's device memory is one host's, so its
collectives go through gloo: each collective copies its mlu operands to the host (after the work
queued on the current stream, as every device-to-host copy does), runs gloo's collective, and
copies the results back on the current stream. CPU tensors in the same calls go to gloo directly.
ReduceOp.AVG, which gloo lacks, is a sum divided by the group's size.
Collectives complete before they return; ``async_op=True`` gets a finished work object. In a
profiler trace each is a ``cncl:<collective>`` range around its copies (device copy activities)
and gloo's exchange.

``dist.init_process_group("cncl")`` (or no backend, for mlu) and DistributedDataParallel on mlu
modules use it; with the GPU migration, "nccl" means "cncl".
"""

import torch
import torch.distributed as dist
from torch._C._distributed_c10d import _create_work_from_future
from torch.futures import Future
from torch.profiler import record_function
from torch.utils._pytree import tree_map

NAME = "cncl"


def _on_mlu(t):
    return isinstance(t, torch.Tensor) and t.device.type == "mlu"


def _to_host(tree):
    return tree_map(lambda t: t.cpu() if _on_mlu(t) else t, tree)


def _copy_back(tree, host_tree):
    tree_map(lambda t, h: t.copy_(h) if _on_mlu(t) else None, tree, host_tree)


def _finished(result):
    future = Future()
    future.set_result(result)
    return _create_work_from_future(future)


class ProcessGroupCNCL(dist.ProcessGroup):
    """A process group for mlu (and CPU) tensors over a gloo process group on the same store."""

    def __init__(self, store, rank, size, timeout):
        super().__init__(rank, size)
        self._gloo = dist.ProcessGroupGloo(store, rank, size, timeout)

    def getBackendName(self):
        return NAME

    def _staged(self, collective, outputs, *args):
        """Runs gloo's collective on host copies of (outputs, *args), then copies the host
        outputs back into outputs."""
        if args and args[-1] is None:  # no options: gloo's defaults
            args = args[:-1]
        with record_function(f"{NAME}:{collective}"):
            host_outputs, *host_args = _to_host([outputs, *args])
            getattr(self._gloo, collective)(host_outputs, *host_args).wait()
            _copy_back(outputs, host_outputs)
        return _finished(outputs)

    def _averaged(self, collective, outputs, *args):
        """ReduceOp.AVG, which gloo lacks (NCCL and CNCL have it): the sum, divided by the
        group's size where the result lands."""
        opts = args[-1]
        if opts is None or opts.reduceOp != dist.ReduceOp.AVG:
            return self._staged(collective, outputs, *args)
        opts.reduceOp = dist.ReduceOp.SUM  # the caller made these options for this call
        work = self._staged(collective, outputs, *args)
        if collective != "reduce" or self.rank() == opts.rootRank:
            tree_map(lambda t: t.div_(self.size()) if isinstance(t, torch.Tensor) else None,
                     outputs)
        return work

    def allreduce(self, tensors, opts=None):
        return self._averaged("allreduce", tensors, opts)

    def broadcast(self, tensors, opts=None):
        return self._staged("broadcast", tensors, opts)

    def reduce(self, tensors, opts=None):
        return self._averaged("reduce", tensors, opts)

    def allgather(self, output_lists, inputs, opts=None):
        return self._staged("allgather", output_lists, inputs, opts)

    def _allgather_base(self, output, input, opts=None):
        return self._staged("_allgather_base", output, input, opts)

    def _reduce_scatter_base(self, output, input, opts=None):
        return self._averaged("_reduce_scatter_base", output, input, opts)

    def gather(self, output_lists, inputs, opts=None):
        return self._staged("gather", output_lists, inputs, opts)

    def scatter(self, outputs, input_lists, opts=None):
        return self._staged("scatter", outputs, input_lists, opts)

    def reduce_scatter(self, outputs, input_lists, opts=None):
        return self._averaged("reduce_scatter", outputs, input_lists, opts)

    def alltoall_base(self, output, input, output_split_sizes, input_split_sizes, opts=None):
        return self._staged("alltoall_base", output, input, output_split_sizes,
                            input_split_sizes, opts)

    # The names PyTorch 2.7 and later call the single-tensor collectives by.
    all_gather_single = _allgather_base
    reduce_scatter_single = _reduce_scatter_base
    all_to_all_single = alltoall_base

    def send(self, tensors, dst, tag):
        self._gloo.send(_to_host(tensors), dst, tag).wait()
        return _finished(tensors)

    def recv(self, tensors, src, tag):
        return self._staged("recv", tensors, src, tag)

    def barrier(self, opts=None):
        (self._gloo.barrier() if opts is None else self._gloo.barrier(opts)).wait()
        return _finished([])


def _create(store, rank, size, timeout):
    return ProcessGroupCNCL(store, rank, size, timeout)


def register():
    if NAME not in dist.Backend.backend_list:
        dist.Backend.register_backend(NAME, _create, devices=["mlu"])
