"""Graph capture and replay on mlu streams, as torch.cuda's CUDA graphs.

While a graph captures (on a side stream), the work launched on that stream is recorded instead of
run, its allocations come from a private memory pool, and random operations take their numbers
relative to each replay. replay() enqueues all of it again as one unit of device work: no Python,
no dispatcher, no allocator. Tensors made during the capture are the graph's static outputs,
overwritten by every replay; feed new inputs by copying into the tensors the capture read.
"""

import gc

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from torch_mlu import _C
from .device import _lazy_init, current_device, is_initialized, synchronize
from .memory import empty_cache
from .streams import Stream, stream

_CAPTURE_ERROR_MODES = ("default", "global", "thread_local", "relaxed")


def is_current_stream_capturing():
    """True while the current stream of the current device captures a graph."""
    if not is_initialized():
        return False
    return _C._is_current_stream_capturing(current_device())


def graph_pool_handle():
    """A new private memory pool id: graphs captured with the same pool share memory, and must
    then be replayed in the order they were captured."""
    _lazy_init()
    return _C._graph_pool_handle()


class MLUGraph(_C._Graph):
    """Work captured from an mlu stream, replayed as one unit (torch.cuda.CUDAGraph).

    keep_graph is accepted for CUDAGraph's signature only: the recorded work is both what is kept
    and what is launched, so there is no separate instantiation to defer."""

    def __init__(self, keep_graph=False):
        _lazy_init()
        super().__init__()

    def capture_begin(self, pool=None, capture_error_mode="global"):
        """Starts capturing the current stream (not the default stream); pool: a
        graph_pool_handle() or another graph's pool() to share memory with."""
        if capture_error_mode not in _CAPTURE_ERROR_MODES:
            raise ValueError(
                f"capture_error_mode must be one of {_CAPTURE_ERROR_MODES}, got {capture_error_mode!r}")
        super().capture_begin(pool)

    def instantiate(self):
        """Nothing to do: capture_end() leaves a graph ready to replay."""

    def enable_debug_mode(self):
        """Kept for torch.cuda.CUDAGraph's API: debug_dump() always works after a capture."""

    def debug_dump(self, path):
        """Writes the captured work, one name per line in launch order."""
        with open(path, "w") as out:
            out.writelines(name + "\n" for name in self.work_names())


class graph:
    """Captures the work of its block into mlu_graph, on a side stream (torch.cuda.graph).

    Synchronizes the device and empties the cache first, as CUDA's does. An exception inside the
    block discards the capture and propagates; an operation that cannot be captured (a host
    synchronization, .item(), a pageable copy, a CPU-fallback operator) raises such an exception.
    """

    _capture_streams = {}  # a side stream per device, shared by captures that name none

    def __init__(self, mlu_graph, pool=None, stream=None, capture_error_mode="global"):
        _lazy_init()
        if stream is None:
            device = current_device()
            if device not in graph._capture_streams:
                graph._capture_streams[device] = Stream()
            stream = graph._capture_streams[device]
        self.mlu_graph = mlu_graph
        self.pool = pool
        self.capture_error_mode = capture_error_mode
        self.stream_context = torch.mlu.stream(stream)

    def __enter__(self):
        synchronize()
        gc.collect()
        empty_cache()
        self.stream_context.__enter__()
        try:
            self.mlu_graph.capture_begin(self.pool, capture_error_mode=self.capture_error_mode)
        except BaseException:
            self.stream_context.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            if exc_type is None:
                self.mlu_graph.capture_end()
            else:
                self.mlu_graph.capture_abort()
        finally:
            self.stream_context.__exit__(exc_type, exc_value, traceback)
        return False


def make_graphed_callables(callables, sample_args, num_warmup_iters=3, allow_unused_input=False,
                           pool=None):
    """Graphed versions of callables (modules or functions) and their backward passes
    (torch.cuda.make_graphed_callables).

    Each callable is warmed up, then its forward and its backward are captured into two graphs
    sharing one memory pool. Calling the result copies the arguments into the captured inputs and
    replays the forward graph; its backward replays the backward graph. A module's graphed forward
    is used only in the training mode it was captured in. sample_args: a tuple of tensors per
    callable (a tuple of such tuples for a tuple of callables). Callables sharing the pool must be
    called in the order given, and their backwards run in reverse order, as when captured.
    """
    just_one = not isinstance(callables, tuple)
    if just_one:
        callables, sample_args = (callables,), (sample_args,)
    if len(callables) != len(sample_args):
        raise ValueError(f"got {len(callables)} callables but {len(sample_args)} sets of sample_args")

    flat_samples, seen = [], set()
    for c, args in zip(callables, sample_args):
        if isinstance(c, torch.nn.Module):
            if c._backward_hooks or c._forward_hooks or c._forward_pre_hooks:
                raise ValueError("modules with hooks cannot be graphed: the hooks would not run "
                                 "on replay")
            if any(b.requires_grad for b in c.buffers()):
                raise ValueError("modules whose buffers require grad cannot be graphed")
        flat, _ = tree_flatten(args)
        if not all(isinstance(a, torch.Tensor) and a.device.type == "mlu" for a in flat):
            raise TypeError("sample_args must hold only mlu tensors (no Python values or CPU "
                            "tensors: a graph replays with the values it was captured with)")
        if any(id(a) in seen for a in flat):
            raise ValueError("sample_args must not pass the same tensor to two callables: each "
                             "graph's replay copies its arguments into its own sample tensors")
        seen.update(id(a) for a in flat)
        params = tuple(c.parameters()) if isinstance(c, torch.nn.Module) else ()
        flat_samples.append(tuple(flat) + params)

    pool = graph_pool_handle() if pool is None else pool
    side = Stream()
    side.wait_stream(torch.mlu.current_stream())

    def grad_inputs_of(inputs):
        return tuple(i for i in inputs if i.requires_grad)

    def run_backward(outputs, inputs, grad_outputs):
        wanted = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
        return torch.autograd.grad(
            outputs=tuple(o for o, _ in wanted), inputs=grad_inputs_of(inputs),
            grad_outputs=tuple(g for _, g in wanted), only_inputs=True,
            allow_unused=allow_unused_input)

    # Warm-up: lazy initialisation and autotuning must not happen inside a capture.
    with stream(side):
        for c, args, inputs in zip(callables, sample_args, flat_samples):
            for _ in range(num_warmup_iters):
                outputs, _ = tree_flatten(c(*args))
                outputs = tuple(o for o in outputs if isinstance(o, torch.Tensor))
                if any(o.requires_grad for o in outputs) and grad_inputs_of(inputs):
                    run_backward(outputs, inputs, tuple(torch.empty_like(o) for o in outputs))
                del outputs
    torch.mlu.current_stream().wait_stream(side)
    synchronize()

    forward_graphs = [MLUGraph() for _ in callables]
    backward_graphs = [MLUGraph() for _ in callables]
    static_outputs, output_specs = [], []
    for c, args, g in zip(callables, sample_args, forward_graphs):
        with graph(g, pool=pool, stream=side):
            outputs = c(*args)
        flat, spec = tree_flatten(outputs)
        static_outputs.append(tuple(flat))
        output_specs.append(spec)

    static_grad_outputs, static_grad_inputs = [None] * len(callables), [None] * len(callables)
    for i in reversed(range(len(callables))):
        outputs, inputs = static_outputs[i], flat_samples[i]
        grads = tuple(torch.empty_like(o) if isinstance(o, torch.Tensor) and o.requires_grad
                      else None for o in outputs)
        grad_inputs = ()
        if any(g is not None for g in grads) and grad_inputs_of(inputs):
            with graph(backward_graphs[i], pool=pool, stream=side):
                grad_inputs = run_backward(outputs, inputs, grads)
        # One entry per flat input: None where no gradient flows.
        per_input, k = [], 0
        for inp in inputs:
            if inp.requires_grad:
                per_input.append(grad_inputs[k] if grad_inputs else None)
                k += 1
            else:
                per_input.append(None)
        static_grad_outputs[i], static_grad_inputs[i] = grads, tuple(per_input)

    graphed = []
    for i, c in enumerate(callables):
        function = _graphed_function(
            forward_graphs[i], backward_graphs[i], flat_samples[i], static_outputs[i],
            output_specs[i], static_grad_outputs[i], static_grad_inputs[i],
            num_user_args=len(flat_samples[i]) - (len(tuple(c.parameters()))
                                                  if isinstance(c, torch.nn.Module) else 0))
        if isinstance(c, torch.nn.Module):
            c.forward = _forward_in_mode(c, c.training, function, c.forward)
            graphed.append(c)
        else:
            graphed.append(function)
    return graphed[0] if just_one else tuple(graphed)


def _graphed_function(forward_graph, backward_graph, static_inputs, static_outputs, output_spec,
                      static_grad_outputs, static_grad_inputs, num_user_args):
    class Graphed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            for static, given in zip(static_inputs, inputs):
                if static.data_ptr() != given.data_ptr():
                    static.copy_(given)
            forward_graph.replay()
            return tuple(o.detach() if isinstance(o, torch.Tensor) else o for o in static_outputs)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, *grads):
            for static, given in zip(static_grad_outputs, grads):
                if static is not None and given is not None and static.data_ptr() != given.data_ptr():
                    static.copy_(given)
            if backward_graph.captured():
                backward_graph.replay()
            return tuple(g.detach() if g is not None else None for g in static_grad_inputs)

    parameters = static_inputs[num_user_args:]

    def function(*args):
        flat, _ = tree_flatten(args)
        if len(flat) != num_user_args:
            raise TypeError(f"the graphed callable was captured with {num_user_args} tensor "
                            f"arguments, got {len(flat)}")
        outputs = Graphed.apply(*flat, *parameters)
        return tree_unflatten(list(outputs), output_spec)

    return function


def _forward_in_mode(module, training, graphed, eager):
    def forward(*args, **kwargs):
        if module.training == training and not kwargs:
            return graphed(*args)
        return eager(*args, **kwargs)
    return forward
