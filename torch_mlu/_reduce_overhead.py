"""``torch.compile(model, mode="reduce-overhead")`` on mlu: compiled graphs replayed as mlu graphs.

reduce-overhead turns on Inductor's "cudagraphs", which only ever wraps CUDA graphs: its lowering
check calls every graph that is not on one cuda device unfit (counted as a skip, silently for
other devices), and its post-compile step hands fit graphs to CUDA graph trees. ``install``
patches both steps for graphs on one mlu device, and only for them:

- ``cudagraph_utils.check_lowering_disable_cudagraph`` (2.6 and 2.14): an mlu graph is fit when
  it touches no other device -- a CPU scalar read by a kernel would be replayed with the value it
  had when recorded -- and has no operator Inductor deems unfit for graphs (2.14 skips that check
  when it partitions graphs around such operators; a whole mlu graph is recorded here instead).
- ``output_code.cudagraph_post_compile`` (2.6, 2.14) and ``cudagraph_partition_post_compile``
  (2.14's default path, ``config.graph_partition``): an mlu graph's callable is wrapped by
  ``_Graphed``, never given to CUDA graph trees (whose backward bookkeeping expects a tree
  manager the forward created).

How a compiled mlu graph runs (``_Graphed``):

- Inputs Inductor lists as static (parameters, buffers and optimizer state, which Dynamo marks;
  in a backward graph the tensors its forward saved) are used in place: in-place updates land in
  the caller's tensors and nothing is copied. Captures are kept per set of their addresses, so a
  new address gets its own capture. Other tensor inputs are copied into buffers the graph reads;
  those the graph mutates are copied back after the replay. Sizes (symbolic int inputs, input
  shapes) are part of the key as well: one capture per set of sizes.
- The first call with a new key runs the compiled code as usual (the warmup); the next one
  records the graph and replays it; later ones replay.
- A replay rewrites the memory of its outputs, which live in the capture's private pool. PyTorch's
  tree-less cudagraphify returns those tensors as they are, so a second replay silently changes
  the outputs of the first (two forwards before one backward, a loss kept across steps). Here a
  capture is replayed only while nothing outside it references its outputs or input buffers
  (storage use counts back at their idle values: the caller's outputs, the tensors autograd saved
  for backward and gradients all count). Otherwise a second capture of the same key is used (a
  step's outputs may still be alive when the next step runs), and past that the compiled code
  runs without a graph. Outputs are handed out as fresh tensors over the pool's storages, which
  is what makes them countable; they are never cloned.

``replays()`` and ``captures()`` count graph replays and recordings in this process.
"""

import functools
import logging

import torch
from torch.multiprocessing.reductions import StorageWeakRef

from torch_mlu import _C

log = logging.getLogger(__name__)

# Captures one compiled graph may hold (each has a private pool with its outputs and temporaries),
# and per key: two let a step's outputs stay alive while the next step replays.
_MAX_CAPTURES = 16
_CAPTURES_PER_KEY = 2
# Keys remembered as warmed up; pointer keys of one-off tensors must not accumulate.
_MAX_SEEN_KEYS = 256

_counts = {"captures": 0, "replays": 0}
_installed = False


def replays():
    """Mlu graph replays of compiled graphs in this process."""
    return _counts["replays"]


def captures():
    """Mlu graph recordings of compiled graphs in this process."""
    return _counts["captures"]


def _skip_log():
    # Inductor's own logger for cudagraph skips (2.14 "cudagraphs", 2.6 "perf_hints" artifact):
    # mlu skips show where CUDA's do, with TORCH_LOGS.
    from torch._inductor import cudagraph_utils

    return (getattr(cudagraph_utils, "cudagraphs_log", None)
            or getattr(cudagraph_utils, "perf_hint_log", None) or log)


def _narrow(tensor, dims):
    """One index of each expanded (stride 0) dimension: copy_ refuses to write memory that several
    elements share, and such a dimension holds one value anyway."""
    for dim in dims:
        tensor = tensor.narrow(dim, 0, 1)
    return tensor


class _Capture:
    """One recording of a compiled graph."""

    def __init__(self, graph, copies, copy_back, outputs, owned):
        self.graph = graph
        self.copies = copies        # (input index, buffer, its view written, expanded dims)
        self.copy_back = copy_back  # (input index, buffer) for copied inputs the graph mutates
        self.outputs = outputs
        self.as_list = isinstance(outputs, list)
        self.owned = owned          # (weak storage ref, use count while only we hold it)
        self.stream = None

    def in_use(self):
        # A replay rewrites these storages; anyone else's tensor on one of them (a returned
        # output, a tensor saved for backward, a gradient) raises its use count.
        return any(_C._storage_use_count(ref.cdata) > idle for ref, idle in self.owned)


class _Graphed:
    """A compiled mlu graph's boxed callable, run by replaying mlu graphs of it."""

    def __init__(self, model, static_input_idxs, mutated_input_idxs, device_index):
        self.model = model
        self.static = frozenset(static_input_idxs)
        self.mutated = frozenset(mutated_input_idxs) - self.static
        self.device_index = torch.mlu.current_device() if device_index is None else device_index
        self.captures = {}
        self.seen = set()
        self.total = 0
        self.broken = False
        self.warned_full = False

    def __call__(self, inputs):
        # Inside a caller's own capture, the compiled code is simply recorded into it.
        if self.broken or torch.mlu.is_current_stream_capturing():
            return self.model(inputs)
        # Recording and replay use the current device's streams: make it the graph's device.
        if torch.mlu.current_device() == self.device_index:
            return self._call(inputs)
        with torch.mlu.device(self.device_index):
            return self._call(inputs)

    def _call(self, inputs):
        key = self._key(inputs)
        capture = next((c for c in self.captures.get(key, ()) if not c.in_use()), None)
        if capture is None:
            if not self._may_capture(key):
                return self.model(inputs)
            capture = self._capture(inputs, key)
            if capture is None:
                return self.model(inputs)
        return self._replay(capture, inputs)

    def _key(self, inputs):
        key = []
        for i, x in enumerate(inputs):
            if not isinstance(x, torch.Tensor):
                key.append(x)  # a size: kernels and buffers differ per value
            elif i in self.static:
                key.append((x.data_ptr(), x.shape))  # used in place: recorded at this address
            else:
                key.append(x.shape)
        return tuple(key)

    def _may_capture(self, key):
        if key not in self.seen:
            # The warmup. Keys of one-off addresses (a backward after an eager forward) stop here
            # and never cost a capture.
            if len(self.seen) >= _MAX_SEEN_KEYS:
                self.seen.clear()
            self.seen.add(key)
            return False
        if len(self.captures.get(key, ())) < _CAPTURES_PER_KEY and self.total < _MAX_CAPTURES:
            return True
        if not self.warned_full:
            self.warned_full = True
            _skip_log().warning(
                "mlu graph: the outputs of every capture of a compiled graph are still referenced "
                "(or %d captures exist); such calls run without a graph", _MAX_CAPTURES)
        return False

    def _capture(self, inputs, key):
        args, copies, copy_back = list(inputs), [], []
        for i, x in enumerate(inputs):
            if isinstance(x, torch.Tensor) and i not in self.static:
                buffer = torch.empty_strided(x.size(), x.stride(), dtype=x.dtype, device=x.device)
                dims = [d for d in range(x.dim()) if x.stride(d) == 0 and x.size(d) > 1]
                # The buffer itself is kept too: idle use counts are taken with it alive.
                copies.append((i, buffer, _narrow(buffer, dims), dims))
                if i in self.mutated:
                    copy_back.append((i, buffer))
                args[i] = buffer
        # An error of earlier work must surface as that work's error, not as a failed recording.
        torch.mlu.synchronize()
        graph = torch.mlu.MLUGraph()
        try:
            # Recording runs nothing: the call's work happens in the replay that follows, so
            # mutations are applied once.
            with torch.mlu.graph(graph):
                outputs = self.model(args)
        except Exception as error:  # noqa: BLE001 - any failed recording means: run eagerly
            self.broken = True
            _skip_log().warning("mlu graph recording failed; this compiled graph runs without "
                                "graphs from now on: %s", error)
            return None
        del args
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        # Storages a replay rewrites: the buffers and the outputs, not the caller's in-place
        # inputs (a forward returns parameters it saves for backward; they are not ours).
        theirs = {x.untyped_storage().data_ptr() for i, x in enumerate(inputs)
                  if i in self.static and isinstance(x, torch.Tensor)}
        refs = {}
        for tensor in [copy[1] for copy in copies] + list(outputs):
            if isinstance(tensor, torch.Tensor):
                ptr = tensor.untyped_storage().data_ptr()
                if ptr and ptr not in theirs and ptr not in refs:
                    refs[ptr] = StorageWeakRef(tensor.untyped_storage())
        # Idle counts, taken while only this capture holds its tensors.
        owned = [(ref, _C._storage_use_count(ref.cdata)) for ref in refs.values()]
        capture = _Capture(graph, copies, copy_back, outputs, owned)
        self.captures.setdefault(key, []).append(capture)
        self.total += 1
        _counts["captures"] += 1
        return capture

    def _replay(self, capture, inputs):
        stream = torch.mlu.current_stream()
        if capture.stream is not None and capture.stream != stream:
            # The last replay ran on another stream and may still read the buffers written next.
            stream.wait_stream(capture.stream)
        capture.stream = stream
        for i, _, view, dims in capture.copies:
            view.copy_(_narrow(inputs[i], dims))
        capture.graph.replay()
        for i, buffer in capture.copy_back:
            inputs[i].copy_(buffer)
        inputs.clear()  # the boxed convention: the callee drops its inputs
        _counts["replays"] += 1
        outputs = (o.detach() if isinstance(o, torch.Tensor) else o for o in capture.outputs)
        return list(outputs) if capture.as_list else tuple(outputs)


# --- Inductor patches ---------------------------------------------------------------------------

def _mlu_skip_reason(device_node_mapping):
    """Why a graph with mlu nodes cannot be recorded whole, or None."""
    from torch._inductor import config
    from torch._inductor.utils import any_is_symbolic, get_first_incompatible_cudagraph_node
    from torch._inductor.virtualized import V

    devices = [d for d in device_node_mapping if d.type != "meta"]  # meta runs nothing
    indices = {d.index for d in devices if d.index is not None}
    if any(d.type != "mlu" for d in devices) or len(indices) > 1:
        # A replay runs no other device's work; a CPU value a kernel reads would be replayed as
        # it was when recorded.
        nodes = ", ".join(f"{d} ({device_node_mapping[d].name})" for d in devices)
        return f"skipping cudagraphs due to an mlu graph on several devices: {nodes}"
    gm = V.graph.module
    node = get_first_incompatible_cudagraph_node(gm)
    if node is not None:
        return f"skipping cudagraphs due to incompatible op {node.target}"
    if config.triton.cudagraph_skip_dynamic_graphs and any_is_symbolic(
            *(n.meta.get("val") for n in gm.graph.nodes if n.op == "placeholder")):
        return ("skipping cudagraphs due to symbolic input shapes "
                "(config.triton.cudagraph_skip_dynamic_graphs)")
    return None


def _lowering_check(original):
    @functools.wraps(original)
    def check_lowering_disable_cudagraph(device_node_mapping, *args, **kwargs):
        if not any(d.type == "mlu" for d in device_node_mapping):
            return original(device_node_mapping, *args, **kwargs)
        reason = _mlu_skip_reason(device_node_mapping)
        if reason:
            # Inductor counts the skip but logs it for GPU devices only.
            _skip_log().warning(reason)
        return reason

    return check_lowering_disable_cudagraph


def _graph_mlu(example_inputs, compiled_graph, cudagraphs):
    from torch._inductor.cudagraph_utils import log_cudagraph_skip_and_bump_counter
    from torch._inductor.utils import BoxedBool

    info = compiled_graph.cudagraph_info
    reasons = list(info.cudagraph_fail_reasons) if info is not None else ["no cudagraph checks"]
    if not all(isinstance(x, (torch.Tensor, int, torch.SymInt)) for x in example_inputs):
        # 2.14 lets generators and opaque objects through for CUDA graph trees; a recording
        # would replay them as they were.
        reasons.append("non-Tensor inputs")
    if reasons:
        BoxedBool.disable(cudagraphs)
        log_cudagraph_skip_and_bump_counter(f"skipping cudagraphs due to {reasons}")
        return
    compiled_graph.current_callable = _Graphed(
        compiled_graph.current_callable,
        compiled_graph.fx_kwargs.get("static_input_idxs") or (),
        compiled_graph.mutated_input_idxs,
        next(iter(compiled_graph.device_idxs), None))


def _post_compile(original):
    @functools.wraps(original)
    def post_compile(example_inputs, compiled_graph, cudagraphs, *args, **kwargs):
        from torch._inductor import config

        # A user's CUDAGraphPolicy (2.14) decides for every device it is given.
        if ("mlu" not in compiled_graph.device_types
                or getattr(config, "cudagraph_policy", None) is not None):
            return original(example_inputs, compiled_graph, cudagraphs, *args, **kwargs)
        return _graph_mlu(example_inputs, compiled_graph, cudagraphs)

    return post_compile


def install():
    """Makes reduce-overhead record and replay compiled mlu graphs (once; a no-op without mlu
    graphs)."""
    global _installed
    if _installed or not all(hasattr(torch.mlu, name) for name in
                             ("MLUGraph", "graph", "is_current_stream_capturing")):
        return
    from torch._inductor import cudagraph_utils, output_code

    cudagraph_utils.check_lowering_disable_cudagraph = _lowering_check(
        cudagraph_utils.check_lowering_disable_cudagraph)
    # cudagraph_partition_post_compile: graph partitions (2.14, not 2.6).
    for name in ("cudagraph_post_compile", "cudagraph_partition_post_compile"):
        original = getattr(output_code, name, None)
        if original is not None:
            setattr(output_code, name, _post_compile(original))
    _installed = True
