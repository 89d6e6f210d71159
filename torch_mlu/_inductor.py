"""Inductor on mlu: ``torch.compile(model)`` generates device kernels for mlu tensors.

Inductor lowers a graph to fused loops and a Python wrapper that calls them. For mlu, the loops
are Inductor's own C++ code generation (the software MLU's memory is addressable by its cores,
as the CPU's is), compiled once per kernel and cached on disk by Inductor's code cache. Each
kernel gets an entry point taking its arguments as 64-bit words (``_entry_point``), and the
wrapper calls ``torch.mlu._queued_kernel(...)`` objects (csrc/generated_kernel.h) that enqueue it
on the current mlu stream: generated kernels run in order with eager work and asynchronously to
Python, never by synchronising the host. Matrix products, convolutions and everything Inductor
does not generate (random numbers, attention, ...) run as extern calls of the eager mlu kernels
on the same stream. A hardware driver would plug in its own code generator here (BANG C through
CNCC) with the same wrapper and launch path.

Registration is lazy: importing Inductor costs most of a second, so torch_mlu registers when
Inductor's graph module or Dynamo's device interfaces are first imported (``install``).
"""

import contextlib
import ctypes
import functools
import importlib.abc
import importlib.machinery
import re
import sys

import torch

from torch_mlu import _C

# Elements a generated kernel's loops give each thread at least before Inductor parallelises them
# (its own default, 4096 or 512, is too little to pay for a helper thread joining).
_MIN_CHUNK_ELEMENTS = 1 << 14

# Generated kernels' OpenMP constructs, run on the device's cores (mlu_kernels/team.h) instead of
# libgomp's team, whose threads would spin on the VM's two cores next to the dispatching thread.
# GCC emits these GOMP calls for what Inductor writes; defined hidden in each kernel's library,
# they take precedence over libgomp's (which PyTorch has loaded). The table's layout is
# hal::GeneratedCodeTeam's (runtime/include/mlu/ops/generated.h), checked by size when bound.
_TEAM_GLUE = r"""
extern "C" {
struct torch_mlu_team_calls {
  void (*parallel)(void (*)(void*), void*, unsigned);
  int (*thread_num)();
  bool (*loop_start)(long, long, long, long*, long*);
  bool (*loop_next)(long*, long*);
  void (*loop_end)(bool);
  void (*barrier)();
  bool (*single_start)();
};
static const torch_mlu_team_calls* torch_mlu_team;
__attribute__((visibility("default")))
int torch_mlu_bind_team(const void* calls, unsigned long size) {
  if (size != sizeof(torch_mlu_team_calls)) return 0;
  torch_mlu_team = static_cast<const torch_mlu_team_calls*>(calls);
  return 1;
}
#define TORCH_MLU_GOMP __attribute__((visibility("hidden")))
TORCH_MLU_GOMP void GOMP_parallel(void (*fn)(void*), void* data, unsigned threads, unsigned) {
  torch_mlu_team->parallel(fn, data, threads);
}
TORCH_MLU_GOMP bool GOMP_loop_nonmonotonic_dynamic_start(long start, long end, long incr, long,
                                                         long* begin, long* stop) {
  return torch_mlu_team->loop_start(start, end, incr, begin, stop);
}
TORCH_MLU_GOMP bool GOMP_loop_nonmonotonic_dynamic_next(long* begin, long* stop) {
  return torch_mlu_team->loop_next(begin, stop);
}
TORCH_MLU_GOMP bool GOMP_loop_dynamic_start(long start, long end, long incr, long, long* begin,
                                            long* stop) {
  return torch_mlu_team->loop_start(start, end, incr, begin, stop);
}
TORCH_MLU_GOMP bool GOMP_loop_dynamic_next(long* begin, long* stop) {
  return torch_mlu_team->loop_next(begin, stop);
}
TORCH_MLU_GOMP void GOMP_loop_end() { torch_mlu_team->loop_end(true); }
TORCH_MLU_GOMP void GOMP_loop_end_nowait() { torch_mlu_team->loop_end(false); }
TORCH_MLU_GOMP void GOMP_barrier() { torch_mlu_team->barrier(); }
TORCH_MLU_GOMP bool GOMP_single_start() { return torch_mlu_team->single_start(); }
}
static inline int torch_mlu_thread_num() { return torch_mlu_team->thread_num(); }
"""

_OMP_PRAGMA = re.compile(r"^(\s*)#pragma omp\b(.*)$", re.MULTILINE)
_TEAM_PRAGMA = re.compile(r" (parallel num_threads\(\d+\)|for( collapse\(\d+\))?|single|simd.*)")

_WORD_GLUE = r"""
#include <cstdint>
#include <cstring>
static inline double torch_mlu_word_as_double(std::uint64_t word) {
  double value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}
extern "C" __attribute__((visibility("default")))
void torch_mlu_entry(const std::uint64_t* words) {
  kernel(%s);
}
"""


def _kind(argtype):
    """The launcher's letter for a C++ argument type: pointer to data the kernel writes (p) or
    only reads (c), integer (i) or float (f)."""
    base = argtype.replace("const ", "").strip()
    if base.endswith("*"):
        return "c" if argtype.strip().startswith("const ") else "p"
    return "f" if base in ("float", "double") else "i"


def _entry_point(argtypes):
    """C++ source of ``torch_mlu_entry(words)``, which calls ``kernel`` with typed arguments."""
    casts = []
    for i, argtype in enumerate(argtypes):
        kind = _kind(argtype)
        if kind in "pc":
            casts.append(f"reinterpret_cast<{argtype}>(words[{i}])")
        elif kind == "f":
            casts.append(f"static_cast<{argtype}>(torch_mlu_word_as_double(words[{i}]))")
        else:
            casts.append(f"static_cast<{argtype}>(words[{i}])")
    return _WORD_GLUE % ", ".join(casts)


@functools.cache
def _kernel_cache():
    from torch._inductor.codecache import CppCodeCache

    class QueuedKernelCache(CppCodeCache):
        """Inductor's C++ code cache (compiled once per source, on disk across processes) for
        kernels with a word entry point, loaded as plain shared libraries."""

        cache = {}
        cache_clear = staticmethod(cache.clear)
        cpp_compile_command_flags = {"include_pytorch": False, "shared": True}

    return QueuedKernelCache


def _team_source(source):
    """The kernel's source with its OpenMP constructs bound to the device's cores. Loops become
    dynamically scheduled: a static schedule would leave a helper's share undone when the helper
    does not join. Constructs outside what Inductor writes (and the team implements) are dropped
    instead, leaving a correct single-threaded kernel."""
    pragmas = [m.group(2) for m in _OMP_PRAGMA.finditer(source)]
    if not any(not p.lstrip().startswith("simd") for p in pragmas):
        return source
    if not all(_TEAM_PRAGMA.fullmatch(p) for p in pragmas) or re.search(
            r"\bomp_(?!get_thread_num\b)\w+", source):
        return _OMP_PRAGMA.sub(lambda m: m.group(0) if m.group(2).lstrip().startswith("simd")
                               else "", source)

    def dynamic(match):
        line = match.group(0)
        return line + " schedule(dynamic)" if match.group(2).startswith(" for") else line

    source = _OMP_PRAGMA.sub(dynamic, source).replace("omp_get_thread_num()",
                                                      "torch_mlu_thread_num()")
    return _TEAM_GLUE + source


def queued_kernel(name, argtypes, source, async_compile=None):
    """The generated kernel ``kernel`` in source, compiled, as a callable that enqueues it.

    With the wrapper's async_compile and more than one compile thread, the compilation runs in
    Inductor's compile workers and this returns a future that the wrapper's
    ``async_compile.wait(globals())`` resolves, so kernels compile in parallel as CPU ones do."""
    from torch._inductor.async_compile import get_compile_threads
    from torch._inductor.codecache import LambdaFuture

    kinds = "".join(_kind(t) for t in argtypes)
    full_source = _team_source(source) + _entry_point(argtypes)
    bound_to_team = _TEAM_GLUE in full_source

    def launcher(library):
        if bound_to_team:
            address, size = _C._generated_code_team()
            if library.torch_mlu_bind_team(ctypes.c_void_p(address), ctypes.c_ulong(size)) != 1:
                raise RuntimeError(f"generated kernel {name}: its parallel regions do not "
                                   "match this torch_mlu's (a stale kernel cache?)")
        address = ctypes.cast(library.torch_mlu_entry, ctypes.c_void_p).value
        return _C._GeneratedKernel(address, name, kinds)

    if async_compile is None or get_compile_threads() <= 1:
        return launcher(_kernel_cache().load(full_source))
    get_library = _kernel_cache().load_async(full_source, submit_fn=async_compile.submit)
    return LambdaFuture(lambda: launcher(get_library()))


def get_raw_stream(device_index):
    """The current stream's id, as Inductor's wrappers ask for it."""
    return torch.mlu.current_stream(device_index).stream_id


# --- Inductor: scheduling, device operations --------------------------------------------------

_CPU_KERNEL_CALL = "async_compile.cpp_pybinding("

# Inductor settings while mlu kernels are generated. Inductor takes the backend of any device it
# does not know from cuda_backend ("triton"), and how it tracks the dtypes of values depends on
# that backend: "cpp" is what generates mlu kernels. Parallel loops are written for the device's
# kernel threads.
@functools.cache
def _codegen_config(serial=False):
    return {"cuda_backend": "cpp",
            "cpp.threads": 1 if serial else _C._operations_info()["threads"],
            "cpp.min_chunk_size": _MIN_CHUNK_ELEMENTS}


def _adds_through_indices(node):
    """Whether a scheduler node adds into its output at computed indices (embedding's gradient,
    index_put with accumulate=True). Inductor writes such stores as compare-and-swap loops in a
    kernel planned for several threads: gpt_small's embedding gradient took 360-660 us that way
    and 170 us single-threaded, so these nodes are generated for one thread."""
    from torch._inductor import ir

    return any(isinstance(getattr(n.node, "data", None), ir.Scatter)
               and n.node.data.scatter_mode == "atomic_add" for n in node.get_nodes())


@contextlib.contextmanager
def _accumulating_contiguous_vector_stores():
    """PyTorch 2.6's vectorised C++ kernels drop the addition from an accumulating store to
    contiguous elements when the kernel is single-threaded, as every mlu kernel is: index_put
    with accumulate=True (embedding's gradient) overwrote instead of adding. Adds the stored-to
    value first, as later versions' ``_get_store_line`` does itself."""
    from torch._inductor.codegen.cpp import CppVecKernel
    from torch._inductor.codegen.cpp_utils import cexpr_index

    store_line = CppVecKernel._get_store_line

    def accumulating_store_line(self, value, var, index, dtype, accu_store=False):
        if accu_store and self._try_get_const_stride(index, self.itervars[self.tiling_idx]) == 1:
            address = f"{var} + {cexpr_index(index)}"
            count = "" if dtype == torch.float and self.tail_size is None else (
                f", {cexpr_index(self.num_elems)}")
            value = f"({value} + {self._get_vec_type(dtype)}::loadu({address}{count}))"
            accu_store = False
        return store_line(self, value, var, index, dtype, accu_store)

    CppVecKernel._get_store_line = accumulating_store_line
    try:
        yield
    finally:
        CppVecKernel._get_store_line = store_line


def _scheduling_class():
    from torch._inductor import config
    from torch._inductor.codegen.cpp import CppScheduling
    from torch._inductor.virtualized import V

    class MLUScheduling(CppScheduling):
        """Inductor's C++ scheduling, with kernels defined as queued mlu kernels."""

        def codegen_node(self, node):
            with config.patch(_codegen_config(_adds_through_indices(node))), \
                    _accumulating_contiguous_vector_stores():
                return super().codegen_node(node)

        def flush(self):
            with config.patch(_codegen_config()), _accumulating_contiguous_vector_stores():
                return super().flush()

        def define_kernel(self, src_code, nodes, kernel_args=None):
            wrapper = V.graph.wrapper_code
            define = wrapper.define_kernel

            def define_queued(kernel_name, body, *args, **kwargs):
                call = f"torch.mlu._queued_kernel(async_compile, {kernel_name!r}, "
                return define(kernel_name, body.replace(_CPU_KERNEL_CALL, call, 1), *args,
                              **kwargs)

            wrapper.define_kernel = define_queued
            try:
                # The comment keeps an mlu kernel apart from a CPU kernel of the same source.
                return super().define_kernel("// mlu\n" + src_code, nodes, kernel_args)
            finally:
                del wrapper.define_kernel

    return MLUScheduling


def _device_op_overrides():
    from torch._inductor.codegen.common import DeviceOpOverrides

    class MLUDeviceOpOverrides(DeviceOpOverrides):
        def import_get_raw_stream_as(self, name):
            return f"from torch_mlu._inductor import get_raw_stream as {name}"

        def set_device(self, device_idx):
            return f"torch.mlu.set_device({device_idx})"

        def synchronize(self):
            return "torch.mlu.synchronize()"

        def device_guard(self, device_idx):
            return f"torch.mlu.device({device_idx})"

    return MLUDeviceOpOverrides()


# Devices whose kernels Inductor generates as C++: the CPU's, and mlu's on the software MLU.
_CPP_DEVICES = ("cpu", "mlu")


def _schedule_mlu_nodes_as_cpp():
    """Makes the scheduler treat mlu nodes as it treats CPU nodes (PyTorch >= 2.8 asks
    ``is_cpu()`` where it means "generated by the C++ backend", e.g. to skip GPU-only loop
    reindexing); mlu kernels are C++ kernels too."""
    from torch._inductor.scheduler import BaseSchedulerNode

    def is_cpu(node):
        device = node.get_device()
        return device is not None and device.type in _CPP_DEVICES

    BaseSchedulerNode.is_cpu = is_cpu


def _guard_mlu_devices():
    """Makes the wrapper enter ``torch.mlu.device(i)`` around an mlu device's kernels, as it does
    for GPUs: new buffers are written as ``device='mlu'`` and must land on the tensors' device."""
    from torch._inductor import scheduler

    needs_guard = scheduler.device_need_guard
    scheduler.device_need_guard = lambda device: device == "mlu" or needs_guard(device)


def _keep_mlu_convolution_layouts():
    """Keeps Inductor from converting the operands of mlu convolutions to channels last (its
    layout optimisation, chosen for GPUs unless forced by config.force_layout_optimization). The
    mlu convolution (oneDNN, which reorders operands itself) runs as fast in either layout, so the
    conversion is only cost: a generated kernel copying every convolution weight at each training
    step, 9 of resnet18_small's 54 ms."""
    from torch._inductor import config
    from torch._inductor.graph import GraphLowering

    decide = GraphLowering.decide_layout_opt

    def on_mlu(node):
        value = getattr(node.args[0], "meta", {}).get("val") if node.args else None
        return isinstance(value, torch.Tensor) and value.device.type == "mlu"

    def decide_layout_opt(gm, *, is_inference):
        if not config.force_layout_optimization and any(
                node.target is torch.ops.aten.convolution.default and on_mlu(node)
                for node in gm.graph.nodes):
            return False
        return decide(gm, is_inference=is_inference)

    GraphLowering.decide_layout_opt = staticmethod(decide_layout_opt)


def _max_pool_as_library_kernels():
    """Lowers 2-D max pooling with indices and its backward on mlu to the library kernels.
    Inductor's loops for them are scalar: the forward, decomposed into a pooling with offsets
    within the window and their conversion to indices, took 1.6 ms for resnet18_small's stem pool
    (with its batch norm and ReLU) where the kernel takes 0.4 ms (one queue thread); the backward,
    a loop over the input that searches every window covering each element, 3.3 ms against 0.2
    ms. Newer Inductors (2.14) decompose the backward into a scatter before lowering, which is as
    fast, and never reach its lowering."""
    from torch._inductor import decomposition, lowering

    forward = torch.ops.aten.max_pool2d_with_indices.default
    backward = torch.ops.aten.max_pool2d_with_indices_backward.default

    decompose = decomposition.decompositions.get(forward)
    if decompose is not None:
        def decompose_off_mlu(x, *args, **kwargs):
            if x.device.type == "mlu":
                return NotImplemented
            return decompose(x, *args, **kwargs)

        decomposition.decompositions[forward] = decompose_off_mlu

    library_forward = lowering.fallback_handler(forward, add_to_fallback_set=False)
    generated_forward = lowering.lowerings[forward]

    def lower_forward(x, *args, **kwargs):
        if x.get_device().type == "mlu":
            return library_forward(x, *args, **kwargs)
        return generated_forward(x, *args, **kwargs)

    lowering.lowerings[forward] = lower_forward

    generated_backward = lowering.lowerings[backward]

    def lower_backward(grad_output, x, *args, **kwargs):
        if x.get_device().type == "mlu":
            return lowering.fallback_max_pool2d_with_indices_backward(grad_output, x, *args,
                                                                      **kwargs)
        return generated_backward(grad_output, x, *args, **kwargs)

    lowering.lowerings[backward] = lower_backward


def _cpp_kernel_heuristics_for_mlu():
    """Applies Inductor's heuristics for C++ kernels, which it chooses by asking whether a node is
    on the CPU, to mlu kernels, which are C++ kernels too: realize a value used several times when
    it is costly to recompute (exp, tanh), the C++ thresholds for realizing long chains (PyTorch
    >= 2.14), and concatenation by copies into the output's slices instead of one loop that picks
    each element's input (Inductor's C++ code cannot vectorise that loop: gpt_small's attention
    gradients took 160 us per concatenation, 50 us as copies)."""
    from torch._inductor import config, ir, lowering

    def is_cpp_device(x):
        return ir.get_device_type(x) in _CPP_DEVICES

    ir.is_cpu = is_cpp_device

    def concatenate_by_copies(inputs, dim):
        return lowering.TensorBox(ir.ConcatKernel.create(inputs, dim))

    for op, generated in list(lowering.lowerings.items()):
        if getattr(op, "overloadpacket", None) is not torch.ops.aten.cat:
            continue

        def cat(inputs, dim=0, generated=generated):
            if config.force_pointwise_cat or not inputs or inputs[0].get_device().type != "mlu":
                return generated(inputs, dim)
            pointwise_cat = lowering.pointwise_cat
            lowering.pointwise_cat = concatenate_by_copies
            try:
                return generated(inputs, dim)
            finally:
                lowering.pointwise_cat = pointwise_cat

        lowering.lowerings[op] = cat


def _wrapper_class():
    from torch._inductor.codegen import wrapper
    from torch._inductor.virtualized import V

    class MLUKernelCalls:
        """Calls generated mlu kernels as the CPU's are called (PyTorch >= 2.8 only knows
        devices with streams as Triton devices); the kernel object does the queueing."""

        def _generate_kernel_call_helper(self, kernel_name, call_args, *, device=None,
                                         triton=True, **kwargs):
            device = device or V.graph.get_current_device_or_throw()
            if not triton and device.type == "mlu":
                self.writeline(self.wrap_kernel_call(kernel_name, call_args))
                return
            super()._generate_kernel_call_helper(kernel_name, call_args, device=device,
                                                 triton=triton, **kwargs)

    class MLUSubgraphWrapperCodegen(MLUKernelCalls, wrapper.SubgraphPythonWrapperCodegen):
        pass

    class MLUWrapperCodegen(MLUKernelCalls, wrapper.PythonWrapperCodegen):
        @staticmethod
        def create(is_subgraph, *args, **kwargs):
            if is_subgraph:
                return MLUSubgraphWrapperCodegen(*args, **kwargs)
            return MLUWrapperCodegen()

    return MLUWrapperCodegen


def _link_system_sleef():
    """Lets generated kernels use vector instructions with a PyTorch whose SLEEF (vectorised
    math) is a system library, as Debian's is: its headers include <sleef.h> without shipping it
    and kernels are linked without -lsleef, so Inductor's ISA probe fails and every kernel is
    scalar. With libsleef-dev installed, loading libsleef globally resolves kernels' SLEEF
    symbols, and the probe (a fresh interpreter without it) is skipped. Returns whether it did."""
    import ctypes.util
    import os
    import sysconfig

    from torch._inductor import config

    bundled = os.path.join(os.path.dirname(torch.__file__), "include", "sleef.h")
    system = ["/usr/include", "/usr/local/include",
              os.path.join("/usr/include", sysconfig.get_config_var("MULTIARCH") or "")]
    library = ctypes.util.find_library("sleef")
    if (config.cpp.vec_isa_ok is not None or os.path.exists(bundled) or library is None
            or not any(os.path.exists(os.path.join(d, "sleef.h")) for d in system)):
        return False
    ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
    config.cpp.vec_isa_ok = True
    return True


def _tag_compile_caches():
    """Adds this build of torch_mlu to the key of torch.compile's on-disk caches, which otherwise
    know only PyTorch's version: a graph compiled by an older torch_mlu (other kernel calls,
    other layouts from the extension) must not be served to a newer one, nor loops parallelised
    for another number of kernel threads."""
    import hashlib
    import pathlib

    import torch.compiler.config as compiler_config

    package = pathlib.Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("_inductor.py", "_compile.py", "_reduce_overhead.py"):
        digest.update((package / name).read_bytes())
    extension = pathlib.Path(_C.__file__).stat()
    digest.update(f"{extension.st_size}:{extension.st_mtime_ns}".encode())
    digest.update(f"threads:{_codegen_config()['cpp.threads']}".encode())
    tag = f"torch_mlu-{digest.hexdigest()[:16]}"
    previous = compiler_config.cache_key_tag
    compiler_config.cache_key_tag = f"{previous}+{tag}" if previous else tag


def register_inductor():
    from torch._inductor.codegen import common

    _schedule_mlu_nodes_as_cpp()
    _guard_mlu_devices()
    _keep_mlu_convolution_layouts()
    _max_pool_as_library_kernels()
    _cpp_kernel_heuristics_for_mlu()
    importlib.import_module("torch_mlu._reduce_overhead").install()
    _link_system_sleef()
    _tag_compile_caches()
    # The built-in overrides load only while none are registered: load them first.
    common.get_device_op_overrides("cpu")
    common.register_device_op_overrides("mlu", _device_op_overrides())
    common.register_backend_for_device("mlu", _scheduling_class(), _wrapper_class())


# --- Dynamo: the device interface ---------------------------------------------------------------

def _device_interface():
    from torch._dynamo.device_interface import DeviceInterface

    mlu = torch.mlu

    class MLUInterface(DeviceInterface):
        device = mlu.device
        Event = mlu.Event
        Stream = mlu.Stream

        class Worker:
            set_device = staticmethod(mlu.set_device)
            current_device = staticmethod(mlu.current_device)
            get_device_properties = staticmethod(mlu.get_device_properties)

        current_device = staticmethod(mlu.current_device)
        set_device = staticmethod(mlu.set_device)
        device_count = staticmethod(mlu.device_count)
        is_available = staticmethod(mlu.is_available)
        stream = staticmethod(mlu.stream)
        current_stream = staticmethod(mlu.current_stream)
        set_stream = staticmethod(mlu.set_stream)
        synchronize = staticmethod(mlu.synchronize)
        get_device_properties = staticmethod(mlu.get_device_properties)
        get_raw_stream = staticmethod(get_raw_stream)
        memory_allocated = staticmethod(mlu.memory_allocated)

        @staticmethod
        def maybe_exchange_device(device):
            previous = mlu.current_device()
            if device >= 0 and device != previous:
                mlu.set_device(device)
            return previous

        exchange_device = maybe_exchange_device

        @staticmethod
        def _set_stream_by_id(stream_id, device_index, device_type):
            mlu.set_stream(mlu.Stream(stream_id=stream_id, device_index=device_index,
                                      device_type=device_type))

        @staticmethod
        def get_compute_capability(device=None):
            major, minor = mlu.get_device_capability(device)
            return major * 10 + minor

        @staticmethod
        def is_bf16_supported(including_emulation=False):
            return mlu.is_bf16_supported(including_emulation)

        @staticmethod
        def is_triton_capable(device=None):
            return False

    return MLUInterface


def register_dynamo():
    from torch._dynamo import device_interface

    interface = _device_interface()
    device_interface.register_interface_for_device("mlu", interface)
    for index in range(torch.mlu.device_count()):
        device_interface.register_interface_for_device(f"mlu:{index}", interface)


# --- Lazy registration --------------------------------------------------------------------------

class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Runs a registration right after a module finishes importing."""

    def __init__(self, registrations):
        self.registrations = registrations

    def find_spec(self, fullname, path, target=None):
        register = self.registrations.get(fullname)
        if register is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            self.registrations.pop(fullname, None)
            if not self.registrations and self in sys.meta_path:
                sys.meta_path.remove(self)  # nothing left to wait for
            register()

        spec.loader.exec_module = exec_then_register
        return spec


def install():
    """Registers with Inductor and Dynamo now if they are loaded, else once they are."""
    pending = {"torch._inductor.graph": register_inductor,
               "torch._dynamo.device_interface": register_dynamo}
    for name in list(pending):
        if name in sys.modules:
            pending.pop(name)()
    if pending:
        sys.meta_path.insert(0, _RegisterAfterImport(pending))
